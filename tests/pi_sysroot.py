"""Emulated arm64 "Raspberry Pi" Pythons for tests: Debian arm64 sysroots run by qemu-user.

Test infrastructure (tests/test_emulated_pi.py uses it; ``python tests/pi_sysroot.py build
PROFILE`` builds one by hand). How a Python under qemu is recognised as emulated is the
runner's job: ``emulation_evidence()`` in bench/device/runner/facts.py.

A *sysroot* is a folder that holds a Debian arm64 Python (unpacked from the archive's .debs) and
the aarch64 wheels of a TFLite runtime and numpy (unpacked into its ``dist-packages``). It runs
on an x86-64 host as ``qemu-aarch64-static -cpu cortex-a72 -L SYSROOT SYSROOT/usr/bin/python3.X``;
`write_python_wrapper` writes a small shell script that does exactly that and passes every
argument through, so the script can stand in for a device's ``python3`` (over a loopback sshd,
say)::

    from pi_sysroot import SysrootUnavailable, build_sysroot, write_python_wrapper

    try:
        root = build_sysroot("rpios12-tflite-runtime")     # built once, then cached
    except SysrootUnavailable as exc:
        pytest.skip(str(exc))                              # names the missing package or tool
    python = write_python_wrapper(root, tmp_path / "python3")

Only the standard library is used. What it needs from the host:

* ``qemu-aarch64-static`` (Debian: ``apt-get install qemu-user-static``); binfmt_misc is not used.
* ``apt-get`` and ``dpkg-deb`` (any Debian or Ubuntu host). apt runs with a private configuration
  and state under the cache folder (``APT_CONFIG``), for arm64 and the profile's suite only, so the
  host's sources, architectures and dpkg database are never touched and root is not needed. The
  indexes and .debs come from deb.debian.org (through the host apt's proxy, if it has one).
* ``pip`` for the running interpreter (``sys.executable -m pip download``), for the wheels.

Sysroots are cached under ``sysroots/`` in the suite's cache folder (tests/suite_pip.py), one folder
per profile and *recipe*: ``<profile>-<hash>``, where the hash covers everything that decides the
folder's contents (suite, package list, wheel pins, CPU model, fake /proc/cpuinfo, builder
version). A changed recipe builds a new folder. A folder that exists is complete: each build
happens in a temporary folder beside it and is renamed into place, under a per-recipe file lock,
so two processes that ask at once build it once.

Emulation facts that shaped this module (FINDINGS.md has the evidence):

* qemu 7.2 (bookworm's) shows aarch64 programs the *host's* x86 /proc/cpuinfo, on which the
  cpuinfo library inside ai-edge-litert 2.3 crashes (SIGSEGV in ``cpuinfo_arm_linux_init`` when an
  Interpreter is made). So every sysroot carries a Raspberry Pi 4 ``proc/cpuinfo``: qemu's ``-L``
  prefix redirects the guest's ``open("/proc/cpuinfo")`` to it. (qemu >= 8 fakes that file
  itself.) The price: the guest's ``os.listdir("/proc")`` lists only that file.
* ``-cpu cortex-a72`` (a Pi 4's core) instead of qemu's default ``max``: with ``max`` (SVE, i8mm …)
  XNNPACK picks other int8 kernels, whose results differ from an A72's and from x86-64's.
* Debian's Python finds the wheels in ``SYSROOT/usr/lib/python3/dist-packages`` by itself (its
  ``sys.prefix`` is ``SYSROOT/usr``, derived from the executable's path): no PYTHONPATH needed.
* Every .py is byte-compiled at build time and the wrapper sets PYTHONDONTWRITEBYTECODE, so the
  cached folder never changes once built; compiling numpy's sources under emulation on every start
  would cost about 9 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from suite_pip import pip_download, suite_cache

__all__ = [
    "PROFILES",
    "Profile",
    "SysrootUnavailable",
    "build_sysroot",
    "cache_root",
    "find_qemu",
    "python_command",
    "read_manifest",
    "sysroot_path",
    "write_python_wrapper",
]

#: Bump when the layout of a sysroot changes: every cached sysroot is then rebuilt.
BUILDER_VERSION = 1

MANIFEST = ".edgebench-sysroot.json"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"

#: What the runner (bench/device/runner/) imports from the standard library (ctypes: numpy and
#: ai-edge-litert).
#: A sysroot that cannot import these, numpy and its runtime is not kept.
RUNNER_IMPORTS = ("argparse", "ctypes", "json", "os", "platform", "resource", "socket", "sys",
                  "time", "traceback")

#: Dropped from every sysroot: documentation, and glibc's iconv modules (nothing here uses iconv).
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
         "usr/share/bug", "usr/lib/aarch64-linux-gnu/gconv")

#: Folders a bench never imports from; skipped when the *emulated* Python byte-compiles (about
#: ten times slower than the host's, which compiles everything).
NOT_IMPORTED = (r"/(tests?|testing|_pyinstaller|f2py|distutils|lib2to3|idlelib|tkinter|"
                r"turtledemo|ensurepip|pydoc_data|unittest|venv|asyncio|email|xmlrpc|wsgiref|"
                r"sqlite3|curses|dbm)/")


def pi4_cpuinfo(cores: int = 4) -> str:
    """/proc/cpuinfo as a Raspberry Pi 4 Model B (BCM2711, Cortex-A72) shows it on 64-bit Pi OS."""
    block = ("processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
             "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
             "CPU part\t: 0xd08\nCPU revision\t: 3\n")
    return ("\n".join(block.format(i=i) for i in range(cores))
            + "\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000e5f1c2a9\n"
              "Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n")


# The .debs that `python3.X -c "import <RUNNER_IMPORTS>, numpy, <runtime>"` needs, and no more:
#   python3.X-minimal       the interpreter (NEEDED: libc6, zlib1g, libexpat1)
#   libpython3.X-minimal    the core stdlib (os, re, argparse, platform, socket …) and site.py
#   libpython3.X-stdlib     json, ctypes, and lib-dynload (_json, _ctypes, resource, _contextvars)
#   libffi8 / libffi7       for _ctypes
#   libstdc++6, libgcc-s1   the C++ runtime of tflite-runtime / ai-edge-litert (and numpy's)
# Not needed although libpython3.X-stdlib depends on them: libssl (only _ssl and _hashlib),
# libbz2, liblzma, libsqlite3, libncursesw6, libreadline8, libuuid1, libdb5.3, libnsl2,
# libtirpc3, libcrypt1, libmpdec3 (bullseye's _decimal), media-types, tzdata.
BOOKWORM_PY311 = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6",
                  "zlib1g", "libexpat1", "libffi8", "libstdc++6", "libgcc-s1")
BULLSEYE_PY39 = ("python3.9-minimal", "libpython3.9-minimal", "libpython3.9-stdlib", "libc6",
                 "zlib1g", "libexpat1", "libffi7", "libstdc++6", "libgcc-s1")

# pip does not widen `--platform manylinux_2_X` to older manylinux tags, so every tag a profile
# accepts is listed (glibc: bookworm 2.36, bullseye 2.31).
BOOKWORM_TAGS = ("manylinux_2_36_aarch64", "manylinux_2_34_aarch64", "manylinux_2_28_aarch64",
                 "manylinux_2_27_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
BULLSEYE_TAGS = ("manylinux_2_31_aarch64", "manylinux_2_28_aarch64", "manylinux_2_27_aarch64",
                 "manylinux_2_17_aarch64", "manylinux2014_aarch64")


class SysrootUnavailable(Exception):
    """A sysroot cannot be built here. The message is one line that names what is missing (a
    package, a wheel pin or a host tool) and why, fit for ``pytest.skip(str(exc))``; ``what`` is
    that name alone."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


@dataclasses.dataclass(frozen=True)
class Profile:
    """One emulated device set-up: a Debian arm64 Python plus pinned aarch64 wheels."""

    name: str
    summary: str
    suite: str  # the Debian suite the arm64 .debs come from
    python: str  # "3.11": the interpreter is usr/bin/python3.11
    debs: tuple[str, ...]
    wheels: tuple[str, ...]  # exact pins "name==version", fetched without their dependencies
    wheel_platforms: tuple[str, ...]
    runtime_module: str  # what a built sysroot must import, e.g. "tflite_runtime.interpreter"
    security_updates: bool = True  # also fetch from <suite>-security
    qemu_cpu: str = "cortex-a72"
    cpuinfo: str = dataclasses.field(default_factory=pi4_cpuinfo)  # "" for none

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    def recipe(self) -> dict:
        """Everything that decides the sysroot's contents, and so its cache key."""
        return {
            "builder": BUILDER_VERSION,
            "suite": self.suite,
            "security_updates": self.security_updates,
            "python": self.python,
            "debs": sorted(self.debs),
            "wheels": sorted(self.wheels),
            "wheel_platforms": list(self.wheel_platforms),
            "qemu_cpu": self.qemu_cpu,
            "cpuinfo": self.cpuinfo,
            "prune": list(PRUNE),
        }

    def recipe_hash(self) -> str:
        text = json.dumps(self.recipe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def bookworm(name: str, summary: str, wheels: tuple[str, ...], runtime_module: str) -> Profile:
    """A Pi 4 on Raspberry Pi OS 12 (bookworm) arm64, whose Python is 3.11 (glibc 2.36)."""
    return Profile(name=name, summary=summary, suite="bookworm", python="3.11",
                   debs=BOOKWORM_PY311, wheels=wheels, wheel_platforms=BOOKWORM_TAGS,
                   runtime_module=runtime_module)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        bookworm(
            "rpios12-tflite-runtime",
            "Pi 4, Raspberry Pi OS 12 (bookworm) arm64: Python 3.11, tflite-runtime 2.14.0, "
            "numpy 1.26.4",
            wheels=("tflite-runtime==2.14.0", "numpy==1.26.4"),
            runtime_module="tflite_runtime.interpreter",
        ),
        bookworm(
            "rpios12-litert",
            "Pi 4, Raspberry Pi OS 12 (bookworm) arm64: Python 3.11, ai-edge-litert 2.3.0, "
            "numpy 2.4.6, flatbuffers",
            # ai-edge-litert asks for numpy>=1.23.2 (1.26.4 and 2.4.6 both work under qemu); 2.4.6
            # is what pip picks and what edgebench pins on the host. Of its other dependencies
            # only flatbuffers is imported by the runner (schema_py_generated, for `ops`).
            wheels=("ai-edge-litert==2.3.0", "numpy==2.4.6", "flatbuffers==25.12.19"),
            runtime_module="ai_edge_litert.interpreter",
        ),
        Profile(
            name="rpios11-tflite-runtime",
            summary="Pi 4, Raspberry Pi OS 11 (bullseye) arm64: Python 3.9, tflite-runtime "
                    "2.13.0, numpy 1.26.4",
            suite="bullseye",
            python="3.9",
            debs=BULLSEYE_PY39,
            wheels=("tflite-runtime==2.13.0", "numpy==1.26.4"),
            wheel_platforms=BULLSEYE_TAGS,
            runtime_module="tflite_runtime.interpreter",
            # deb.debian.org answers 404 for bullseye-security's arm64 .debs here although the
            # index lists them, so the bullseye point release (11.11) alone is used.
            security_updates=False,
        ),
    )
}


# --------------------------------------------------------------------------- paths


def cache_root() -> Path:
    """``sysroots`` in the suite's cache folder (tests/suite_pip.py's `suite_cache`)."""
    return suite_cache() / "sysroots"


def _profile(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown sysroot profile {profile!r}; known: {known}") from None


def sysroot_path(profile: str | Profile, cache_dir: Path | None = None) -> Path:
    """Where `build_sysroot` keeps this profile's sysroot, built or not."""
    p = _profile(profile)
    return Path(cache_dir or cache_root()) / f"{p.name}-{p.recipe_hash()}"


def read_manifest(sysroot: Path) -> dict:
    """What a build records in the sysroot: profile, recipe, fetched packages, timings."""
    return json.loads((Path(sysroot) / MANIFEST).read_text())


# --------------------------------------------------------------------------- host tools


def find_qemu() -> str:
    """The qemu-user binary for aarch64 guests; SysrootUnavailable names the package if none."""
    for name in ("qemu-aarch64-static", "qemu-aarch64"):
        path = shutil.which(name)
        if path:
            return path
    raise SysrootUnavailable("qemu-user-static", "qemu-aarch64-static is not installed: "
                                                 "apt-get install qemu-user-static")


def _need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise SysrootUnavailable(package, f"{name} is not installed; an emulated Pi needs "
                                          f"Debian's {package}")
    return path


def _run(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), env=dict(env) if env is not None else None, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        shown = " ".join(cmd[:3])
        raise SysrootUnavailable(cmd[0], f"{shown} took longer than {timeout:.0f} s") from None


def _tail(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def _locked(path: Path, timeout_s: float) -> Iterator[None]:
    """An exclusive flock on ``path`` (created if needed), waited for up to ``timeout_s``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise SysrootUnavailable(str(path), f"another process has held {path} for "
                                                        f"more than {timeout_s:.0f} s") from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --------------------------------------------------------------------------- fetching


def _host_apt_proxies() -> str:
    """The host apt's proxy settings, which the private configuration (it reads nothing of
    /etc/apt) would otherwise drop."""
    try:
        out = subprocess.run(["apt-config", "dump"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    keep = [ln for ln in out.splitlines()
            if re.match(r"Acquire::(https?|ftp)::Proxy(::\S+)? ", ln, re.I)]
    return "".join(ln + "\n" for ln in keep)


def _apt_dir(root: Path, profile: Profile) -> Path:
    """A private apt configuration and state for ``profile.suite`` on arm64 (shared by the
    profiles of that suite; callers hold its lock)."""
    d = root / "apt" / f"{profile.suite}-arm64{'-sec' if profile.security_updates else ''}"
    for sub in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
                "etc/apt/trusted.gpg.d", "lists/partial", "cache/archives/partial"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "status").touch()
    sources = [f"deb [arch=arm64 signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {profile.suite} main"]
    if profile.security_updates:
        sources.append(f"deb [arch=arm64 signed-by={DEBIAN_KEYRING}] {DEBIAN_SECURITY} "
                       f"{profile.suite}-security main")
    (d / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
    conf = {
        "Dir::Etc": d / "etc/apt",
        "Dir::State": d,
        "Dir::State::lists": d / "lists",
        "Dir::State::status": d / "status",
        "Dir::Cache": d / "cache",
        "APT::Architecture": "arm64",
        # As root, apt would fetch as user _apt, who cannot write into root's cache folder.
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else "",
        "Acquire::Languages": "none",
        "Debug::NoLocking": "1",  # our flock serialises the users of this folder
    }
    text = "".join(f'{k} "{v}";\n' for k, v in conf.items() if v != "")
    text += 'APT::Architectures { "arm64"; };\n' + _host_apt_proxies()
    (d / "apt.conf").write_text(text)
    return d


def _missing_debs(output: str, wanted: Sequence[str]) -> list[str]:
    """The packages apt-get's errors name: 'Unable to locate package X', or a failed URL."""
    names = re.findall(r"Unable to locate package (\S+)", output)
    names += re.findall(r"Couldn't find any package by (?:glob|regex) '([^']+)'", output)
    names += [os.path.basename(url).split("_", 1)[0]
              for url in re.findall(r"Failed to fetch (\S+)", output)]
    names = list(dict.fromkeys(names))
    return [n for n in names if n in wanted] or names


def _fetch_debs(profile: Profile, root: Path, dest: Path, lock_timeout_s: float) -> list[str]:
    """Download the profile's .debs into ``dest``; returns their "package version" lines."""
    apt_get = _need_tool("apt-get", "apt")
    if not Path(DEBIAN_KEYRING).exists():
        raise SysrootUnavailable("debian-archive-keyring", f"{DEBIAN_KEYRING} is missing: "
                                 "apt-get install debian-archive-keyring")
    apt_dir = _apt_dir(root, profile)
    env = dict(os.environ, APT_CONFIG=str(apt_dir / "apt.conf"), LC_ALL="C",
               DEBIAN_FRONTEND="noninteractive")
    with _locked(apt_dir / "lock", lock_timeout_s):
        upd = _run([apt_get, "-q", "update"], env=env, timeout=600)
        if upd.returncode != 0 or re.search(r"^(E|Err):", upd.stdout + upd.stderr, re.M):
            raise SysrootUnavailable(f"{profile.suite} arm64 index",
                                     f"cannot fetch Debian {profile.suite}'s arm64 package "
                                     f"index: {_tail(upd.stderr or upd.stdout)}")
        dl = _run([apt_get, "-q", "download", *profile.debs], env=env, cwd=dest, timeout=900)
        # The indexes (~50 MB) and apt's binary caches (~70 MB) serve this build only: the next
        # one runs `apt-get update` again anyway.
        for sub in ("lists", "cache"):
            shutil.rmtree(apt_dir / sub, ignore_errors=True)
    if dl.returncode != 0:
        missing = _missing_debs(dl.stdout + dl.stderr, profile.debs)
        names = ", ".join(missing) or "(see apt-get)"
        raise SysrootUnavailable(names, f"cannot fetch the arm64 package"
                                        f"{'s' if len(missing) > 1 else ''} {names} from Debian "
                                        f"{profile.suite}: {_tail(dl.stderr or dl.stdout, 2)}")
    fetched = []
    for deb in sorted(dest.glob("*.deb")):
        out = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"]).stdout
        fetched.append(" ".join(ln.split(": ", 1)[1] for ln in out.splitlines() if ": " in ln))
    return fetched


def _fetch_wheels(profile: Profile, dest: Path) -> list[str]:
    """Download the profile's pinned aarch64 wheels into ``dest``; returns their file names."""
    args = ["--no-deps", "--only-binary=:all:",
            "--python-version", profile.python, "--implementation", "cp",
            "--abi", profile.python_tag, "--abi", "abi3", "--abi", "none", "-d", str(dest)]
    for tag in profile.wheel_platforms:
        args += ["--platform", tag]
    try:
        res = pip_download(sys.executable, *args, *profile.wheels)
    except subprocess.TimeoutExpired:
        raise SysrootUnavailable("pip", "pip download took longer than 900 s") from None
    if res.returncode != 0:
        out = res.stdout + res.stderr
        if "No module named pip" in out:
            raise SysrootUnavailable("pip", f"{sys.executable} has no pip, which fetches the "
                                            "aarch64 wheels")
        named = re.findall(r"No matching distribution found for (\S+)", out)
        what = ", ".join(named) or ", ".join(profile.wheels)
        raise SysrootUnavailable(what, f"cannot fetch the {what} wheel for CPython "
                                       f"{profile.python} on linux aarch64: {_tail(out, 2)}")
    files = sorted(p.name for p in dest.glob("*.whl"))
    if len(files) != len(profile.wheels):
        raise SysrootUnavailable(", ".join(profile.wheels),
                                 f"pip download gave {files} for the pins {profile.wheels}")
    return files


# --------------------------------------------------------------------------- assembling


def python_command(sysroot: Path, qemu: str | None = None) -> list[str]:
    """The argv that runs the sysroot's Python under qemu; append the Python arguments."""
    sysroot = Path(sysroot)
    recipe = read_manifest(sysroot)["recipe"]
    return [qemu or find_qemu(), "-cpu", recipe["qemu_cpu"], "-L", str(sysroot),
            str(sysroot / "usr" / "bin" / f"python{recipe['python']}")]


def _guest_env(write_bytecode: bool = False) -> dict[str, str]:
    """The host's environment without PYTHON*/QEMU_* (a host PYTHONPATH would put x86 packages
    first), with the user site off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QEMU_"))}
    env["PYTHONNOUSERSITE"] = "1"
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _unpack(profile: Profile, debs: Path, wheels: Path, tree: Path) -> None:
    for deb in sorted(debs.glob("*.deb")):
        res = _run(["dpkg-deb", "-x", str(deb), str(tree)])
        if res.returncode != 0:
            raise SysrootUnavailable(deb.name, f"cannot unpack {deb.name}: {_tail(res.stderr)}")
    site = tree / "usr" / "lib" / "python3" / "dist-packages"
    site.mkdir(parents=True, exist_ok=True)
    for whl in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(whl) as zf:
            zf.extractall(site)
    for rel in PRUNE:
        shutil.rmtree(tree / rel, ignore_errors=True)
    py = tree / "usr" / "bin" / f"python{profile.python}"
    if not py.exists():
        raise SysrootUnavailable(f"python{profile.python}-minimal",
                                 f"python{profile.python}-minimal gave no usr/bin/{py.name}")
    link = tree / "usr" / "bin" / "python3"
    if not link.exists():
        link.symlink_to(py.name)
    if profile.cpuinfo:
        (tree / "proc").mkdir(exist_ok=True)
        (tree / "proc" / "cpuinfo").write_text(profile.cpuinfo)


def _compile(profile: Profile, tree: Path, cmd: list[str]) -> str:
    """Byte-compile the sysroot's .py files; returns who did it. The host's Python does, when its
    bytecode magic is the guest's (same 3.X; about 10 s for everything); else the emulated one
    does, leaving out the `NOT_IMPORTED` folders (1-2 min)."""
    targets = [str(tree / "usr" / "lib" / f"python{profile.python}"),
               str(tree / "usr" / "lib" / "python3" / "dist-packages")]
    magic = _run([*cmd, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
                 env=_guest_env(), timeout=300)
    if magic.returncode == 0 and magic.stdout.strip() == importlib.util.MAGIC_NUMBER.hex():
        compiler, skip, how = [sys.executable], [], "host"
    else:
        compiler, skip, how = cmd, ["-x", NOT_IMPORTED], "emulated"
    res = _run([*compiler, "-m", "compileall", "-q", "-j", "0", *skip, *targets],
               env=_guest_env(write_bytecode=True), timeout=1800)
    # compileall exits 1 when some file does not compile (a py2-only file in a wheel, say):
    # harmless, such files are never imported. The smoke import is the real check.
    if res.returncode not in (0, 1):
        raise SysrootUnavailable("compileall", "byte-compiling the sysroot failed: "
                                               f"{_tail(res.stderr or res.stdout)}")
    return how


def _smoke(profile: Profile, cmd: list[str]) -> str:
    """Import what the runner imports, under emulation; returns a line of versions."""
    dist = profile.runtime_module.split(".")[0]
    code = (f"import {', '.join(RUNNER_IMPORTS)}, numpy, {profile.runtime_module}, {dist} as rt; "
            f"print('python', sys.version.split()[0], 'numpy', numpy.__version__, '{dist}', "
            "getattr(rt, '__version__', '?'))")
    res = _run([*cmd, "-c", code], env=_guest_env(), timeout=600)
    if res.returncode != 0:
        raise SysrootUnavailable(profile.runtime_module,
                                 f"the emulated python{profile.python} cannot import the runner's "
                                 f"modules: {_tail(res.stderr or res.stdout)}")
    return res.stdout.strip().splitlines()[-1]


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def build_sysroot(profile: str | Profile, cache_dir: Path | None = None, *,
                  lock_timeout_s: float = 1800,
                  log: Callable[[str], None] | None = None) -> Path:
    """Build the profile's sysroot once and return its folder; later calls only look it up.

    ``profile`` is a name in `PROFILES` or a `Profile`; ``cache_dir`` defaults to `cache_root`.
    Raises `SysrootUnavailable` (one line naming the package, wheel or tool) when something
    cannot be fetched or the result cannot import the runtime, ValueError for an unknown name.
    ``log`` gets progress lines. Several processes may call this at once: one builds, the others
    wait for it (up to ``lock_timeout_s``).
    """
    p = _profile(profile)
    root = Path(cache_dir or cache_root())
    final = sysroot_path(p, root)
    if (final / MANIFEST).exists():
        return final
    qemu = find_qemu()  # before any download: without it nothing could be used
    _need_tool("dpkg-deb", "dpkg")
    say = log or (lambda _line: None)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{final.name}.lock", lock_timeout_s):
        if (final / MANIFEST).exists():  # another process built it while we waited
            return final
        for stale in root.glob(f".{final.name}.tmp-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=root))
        try:
            _build(p, root, work, qemu, lock_timeout_s, say)
            os.rename(work / "root", final)  # every path inside is relative: the tree moves
        finally:
            shutil.rmtree(work, ignore_errors=True)
    say(f"{p.name}: built in {read_manifest(final)['build_s']:.0f} s: {final}")
    return final


def _build(p: Profile, root: Path, work: Path, qemu: str, lock_timeout_s: float,
           say: Callable[[str], None]) -> None:
    """Fetch, unpack, compile and check the profile in ``work/root``."""
    tree, debs, wheels = work / "root", work / "debs", work / "wheels"
    for d in (tree, debs, wheels):
        d.mkdir()
    start = last = time.monotonic()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        phases[name] = round(now - last, 1)
        last = now

    say(f"{p.name}: fetching {len(p.debs)} arm64 .debs from Debian {p.suite}")
    fetched_debs = _fetch_debs(p, root, debs, lock_timeout_s)
    lap("debs")
    say(f"{p.name}: fetching {', '.join(p.wheels)}")
    fetched_wheels = _fetch_wheels(p, wheels)
    lap("wheels")
    _unpack(p, debs, wheels, tree)
    lap("unpack")
    manifest = {"profile": p.name, "summary": p.summary, "recipe": p.recipe(),
                "recipe_hash": p.recipe_hash(), "debs": fetched_debs, "wheels": fetched_wheels}
    (tree / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")  # python_command reads it
    cmd = python_command(tree, qemu)
    say(f"{p.name}: byte-compiling")
    compiled_by = _compile(p, tree, cmd)
    lap("compile")
    say(f"{p.name}: checking the imports under emulation")
    versions = _smoke(p, cmd)
    lap("smoke")
    manifest.update({
        "versions": versions,
        "compiled_by": compiled_by,
        "qemu": _run([qemu, "--version"]).stdout.splitlines()[0],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "phases_s": phases,
        "build_s": round(time.monotonic() - start, 1),
        "size_mb": round(_du(tree) / 1e6, 1),
    })
    (tree / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def write_python_wrapper(sysroot: Path, path: Path, qemu: str | None = None) -> Path:
    """Write an executable /bin/sh script at ``path`` that runs the sysroot's Python under qemu
    with all its arguments ("$@"), usable as a device's ``python3``; returns ``path``.

    The script clears the host's PYTHON* and QEMU_* variables, turns the user site off, and
    keeps Python from writing bytecode into the shared, cached sysroot.
    """
    sysroot, path = Path(sysroot).resolve(), Path(path)
    man = read_manifest(sysroot)
    argv = " ".join(shlex.quote(c) for c in python_command(sysroot, qemu))
    text = (
        "#!/bin/sh\n"
        f"# edgebench: an emulated arm64 Python ({man['profile']}, recipe {man['recipe_hash']})\n"
        f"# {man.get('versions', '')}\n"
        "unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE PYTHONEXECUTABLE\n"
        "unset QEMU_LD_PREFIX QEMU_CPU QEMU_STRACE QEMU_GUEST_BASE\n"
        "export PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1\n"
        "# A guest that crashes would leave qemu's core file (~100 MB) in the work folder.\n"
        "ulimit -c 0\n"
        f'exec {argv} "$@"\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="cached arm64 sysroots for an emulated Raspberry Pi")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the profiles, their cache folders, and which are built")
    for name, text in (("build", "build (or look up) a profile's sysroot"),
                       ("wrapper", "build a profile and write its python wrapper to PATH")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("profile", choices=sorted(PROFILES))
        if name == "wrapper":
            sp.add_argument("path", type=Path)
        sp.add_argument("--cache-dir", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for name, p in sorted(PROFILES.items()):
            path = sysroot_path(p)
            state = "built" if (path / MANIFEST).exists() else "-"
            print(f"{name:<24} {state:<6} {p.summary}\n  {path}")
        return 0
    start = time.monotonic()
    try:
        root = build_sysroot(args.profile, args.cache_dir, log=lambda s: print(s, file=sys.stderr))
    except SysrootUnavailable as exc:
        print(f"unavailable: {exc}", file=sys.stderr)
        return 3
    print(f"{root} ({time.monotonic() - start:.2f} s)", file=sys.stderr)
    print(write_python_wrapper(root, args.path) if args.cmd == "wrapper" else root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
