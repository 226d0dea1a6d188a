"""Test devices for everything that talks SSH: a real OpenSSH server on 127.0.0.1 and device
Pythons with the runtimes Raspberry Pis really have (a plugin of tests/conftest.py).

The server is Debian's /usr/sbin/sshd with a throw-away host key, user key, sshd_config and
client config in tmp folders; ~/.ssh is never touched. Each device Python is a virtualenv
built once with pip and cached under ~/.cache/edgebench-tests (seconds on a fresh machine):

- ``remote_python``: tflite-runtime 2.14 and numpy < 2 (what works on many Pis);
- ``numpy2_python``: tflite-runtime 2.14 and numpy 2 (what a plain ``pip install
  tflite-runtime`` gives in a fresh venv: tflite-runtime does not cap numpy);
- ``no_runtime_python``: numpy, no TFLite runtime;
- ``broken_runtime_python``: tflite-runtime installed, but its shared object damaged, so
  importing it fails for real (built per session from ``remote_python``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIX = Path(__file__).parent / "fixtures"
SSHD = "/usr/sbin/sshd"
RUNTIME_PIN = ("tflite-runtime==2.14.0", "numpy==1.26.4")
NUMPY2_PIN = ("tflite-runtime==2.14.0", "numpy==2.2.6")
NO_RUNTIME_PIN = ("numpy==1.26.4",)
WRAPPER = "_pywrap_tensorflow_interpreter_wrapper"  # tflite-runtime's compiled interpreter




def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _closed_port() -> int:
    return _free_port()  # nothing listens there once the probe socket is closed


class Server:
    """A running sshd and what a client needs to reach it."""

    def __init__(self, root: Path, port: int, proc: subprocess.Popen) -> None:
        self.root, self.port, self.proc = root, port, proc
        self.address = f"ssh://root@127.0.0.1:{port}"
        self.remote_tmp = root / "remote-tmp"  # the device's $TMPDIR: must end up empty
        self.user_key = root / "user_key"
        self.known_hosts = root / "known_hosts"
        self.client_config = root / "ssh_config"

    def client(self, name: str, identity: Path | None = None, known: bool = True) -> Path:
        """A client config with its own known_hosts (pre-filled with the host key or empty)."""
        kh = self.root / f"known_hosts-{name}"
        kh.write_text(self.known_hosts.read_text() if known else "")
        cfg = self.root / f"ssh_config-{name}"
        cfg.write_text(
            "Host *\n"
            f"  IdentityFile {identity or self.user_key}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {kh}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  LogLevel ERROR\n"
        )
        return cfg

    def options(self, **extra) -> dict:
        return {"ssh_config": self.client_config, **extra}

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.remote_tmp.iterdir())


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    if not Path(SSHD).exists() or shutil.which("ssh") is None:
        pytest.fail("OpenSSH is missing: apt-get install openssh-server openssh-client "
                    "(.ci/run does this)")
    if os.geteuid() != 0:
        pytest.skip("the loopback sshd logs in as root; run the tests as root (CI does)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    root = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "user_key", "other_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key,
                        "-f", str(root / key)], check=True)
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    (root / "remote-tmp").mkdir()
    port = _free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {root / 'host_key'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PidFile none\n"
        f"SetEnv TMPDIR={root / 'remote-tmp'}\n"
        "Subsystem sftp internal-sftp\n"
        "MaxStartups 64\n"
        "LogLevel VERBOSE\n"
    )
    log = root / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-E", str(log), "-f", str(config)])
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"sshd did not listen on {port}: {log.read_text()}")
            time.sleep(0.1)
    server = Server(root, port, proc)
    host_pub = (root / "host_key.pub").read_text().split()[:2]
    server.known_hosts.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub)}\n")
    server.client_config = server.client("default")
    yield server
    proc.terminate()
    proc.wait(timeout=10)


def cached_venv(name: str, pins: tuple[str, ...]) -> Path:
    """A virtualenv with exactly ``pins``, built once and cached; returns its python."""
    if sys.version_info[:2] != (3, 11):
        pytest.fail("tflite-runtime 2.14.0 has wheels up to CPython 3.11; run the tests on 3.11")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgebench-tests"
    venv = cache / name
    python = venv / "bin" / "python"
    if not python.exists():
        # Built beside the cache and renamed into place, so an interrupted build is never used.
        # (A moved venv still works as `python -m …`; only its scripts' #! lines go stale.)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".build-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(tmp)], check=True)
        subprocess.run([str(tmp / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *pins], check=True)
        try:
            os.rename(tmp, venv)
        except OSError:  # another test run got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return python


def versions(python: Path | str) -> dict[str, str | None]:
    """numpy's and tflite-runtime's versions in a device Python (None when missing)."""
    code = ("import importlib.metadata as m\n"
            "for d in ('numpy', 'tflite-runtime'):\n"
            "    try: print(d, m.version(d))\n"
            "    except m.PackageNotFoundError: print(d, '-')\n")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    found = dict(zip(out[::2], out[1::2], strict=True))
    return {k: (None if v == "-" else v) for k, v in found.items()}


@pytest.fixture(scope="session")
def remote_python() -> str:
    """A Python with tflite-runtime 2.14 and numpy < 2 and no ai-edge-litert (cached)."""
    python = cached_venv("tflite-runtime-2.14.0-cp311", RUNTIME_PIN)
    found = versions(python)
    assert found["tflite-runtime"] == "2.14.0" and found["numpy"].startswith("1.")
    return str(python)


@pytest.fixture(scope="session")
def numpy2_python() -> str:
    """tflite-runtime 2.14 with numpy 2: every model fails in CreateWrapperFromFile (cached)."""
    python = cached_venv("tflite-runtime-2.14.0-numpy2-cp311", NUMPY2_PIN)
    found = versions(python)
    assert found["tflite-runtime"] == "2.14.0" and found["numpy"].startswith("2.")
    return str(python)


@pytest.fixture(scope="session")
def no_runtime_python() -> str:
    """numpy and no TFLite runtime at all (cached)."""
    python = cached_venv("numpy-only-cp311", NO_RUNTIME_PIN)
    assert versions(python) == {"numpy": "1.26.4", "tflite-runtime": None}
    return str(python)


@pytest.fixture(scope="session")
def broken_runtime_python(remote_python, tmp_path_factory) -> str:
    """tflite-runtime 2.14 installed, but its compiled interpreter damaged (its ELF header
    overwritten), so ``import tflite_runtime.interpreter`` fails in the dynamic loader: a
    venv whose own site-packages hold the damaged copy, with numpy from ``remote_python``'s."""
    root = tmp_path_factory.mktemp("broken-runtime")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    good = Path(subprocess.run(
        [remote_python, "-c", "import tflite_runtime, os; "
         "print(os.path.dirname(os.path.dirname(tflite_runtime.__file__)))"],
        capture_output=True, text=True, check=True).stdout.strip())
    shutil.copytree(good / "tflite_runtime", site / "tflite_runtime")
    for dist in good.glob("tflite_runtime-*.dist-info"):
        shutil.copytree(dist, site / dist.name)
    (so,) = (site / "tflite_runtime").glob(f"{WRAPPER}*.so")
    so.write_bytes(b"\0" * 64 + so.read_bytes()[64:])  # its ELF header overwritten
    (site / "device-numpy.pth").write_text(str(good) + "\n")  # numpy (and nothing first)
    python = root / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import tflite_runtime.interpreter"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "ImportError" in probe.stderr, probe.stderr
    return str(python)
