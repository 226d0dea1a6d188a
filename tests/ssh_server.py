"""A real OpenSSH server on 127.0.0.1 for the SSH tests (a pytest plugin: conftest loads it).

The server is Debian's /usr/sbin/sshd with a throw-away host key, user key, sshd_config and
client config in tmp folders; ~/.ssh is never touched. ``sshd`` has an SFTP server, as most
boards do; ``sshd_no_sftp`` has none (Dropbear-like images, minimal configs), and
``sshd_no_sftp_no_scp`` has neither SFTP nor an ``scp`` program on the device's PATH.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from system_tools import need

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
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
        self.log = root / "sshd.log"

    def client(self, name: str, identity: Path | None = None, known: bool = True,
               alias: str | None = None) -> Path:
        """A client config with its own known_hosts (pre-filled with the host key or empty);
        with ``alias``, a ``Host`` block that names this server the way ~/.ssh/config does."""
        kh = self.root / f"known_hosts-{name}"
        kh.write_text(self.known_hosts.read_text() if known else "")
        cfg = self.root / f"ssh_config-{name}"
        block = (f"Host {alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  User root\n"
                 if alias else "")
        cfg.write_text(
            block
            + "Host *\n"
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

    def logins(self) -> int:
        """How many SSH connections the server has accepted so far."""
        return self.log.read_text().count("Accepted publickey")


def start_sshd(root: Path, sftp: bool = True, path: str | None = None) -> Server:
    """Start an sshd in ``root``; without ``sftp`` it has no SFTP subsystem; ``path`` is the
    PATH of the device's shell (a folder without scp, say)."""
    need("sshd", "ssh")
    if os.geteuid() != 0:
        pytest.skip("the loopback sshd logs in as root; run the tests as root (CI does)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    for key in ("host_key", "user_key", "other_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key,
                        "-f", str(root / key)], check=True)
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    (root / "remote-tmp").mkdir()
    port = _free_port()
    env = f"TMPDIR={root / 'remote-tmp'}" + (f" PATH={path}" if path else "")
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
        f"SetEnv {env}\n"
        + ("Subsystem sftp internal-sftp\n" if sftp else "")
        + "MaxStartups 64\n"
        "MaxSessions 64\n"
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
    return server


def stop_sshd(server: Server) -> None:
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """An sshd with an SFTP server, as most boards have."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)


@pytest.fixture(scope="module")
def sshd_no_sftp(tmp_path_factory):
    """An sshd without an SFTP subsystem: OpenSSH 9's scp fails there ("Connection closed")."""
    server = start_sshd(tmp_path_factory.mktemp("sshd-no-sftp"), sftp=False)
    yield server
    stop_sshd(server)


@pytest.fixture(scope="module")
def sshd_no_sftp_no_scp(tmp_path_factory):
    """No SFTP server and no scp program on the device: only a shell with tar."""
    root = tmp_path_factory.mktemp("sshd-bare")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "tar", "mktemp", "rm", "cat", "timeout", "true", "grep", "cut", "uname",
                 "getconf", "sort", "tail"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    server = start_sshd(root, sftp=False, path=str(bin_dir))
    yield server
    stop_sshd(server)
