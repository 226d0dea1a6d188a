"""The SSH target: a Raspberry Pi or any Linux board with Python, through the system OpenSSH.

Uses ``ssh`` and ``scp`` from the user's OpenSSH, so ``~/.ssh/config``, the agent, keys and
jump hosts work unchanged. Every command is an argument list; the one string that reaches the
remote shell is built from :func:`shlex.quote`-d words. Host-key checking stays on
(``StrictHostKeyChecking=yes``); accepting a new host key is the explicit
``accept_new_host_key`` option (``--accept-new-host-key``).

Files go to a private folder made by ``mktemp -d`` on the device, under names this module
chooses (``03-model.tflite``), so a local file name with spaces, quotes or ``;`` never reaches
a shell. :meth:`SshTarget.cleanup` removes the folder, also after a failure.

One connection serves the whole bench: OpenSSH's ``ControlMaster``/``ControlPersist`` with its
socket in a private folder (removed, and the master stopped, by :meth:`SshTarget.cleanup`), so
each model costs one session on an open connection instead of a new key exchange. Files are
copied in one step (one ``scp`` for all of them). A device without an SFTP server (Dropbear on
Buildroot, Yocto or OpenWrt; an sshd without ``Subsystem sftp``), where OpenSSH 9's ``scp``
fails with "Connection closed", gets ``scp -O`` (the legacy SCP protocol), else a tar stream
through ``ssh``; :meth:`SshTarget.facts` says which was used.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from edgebench.deploy.base import (
    DESCRIBE_SCRIPT,
    CommandResult,
    RuntimeMissing,
    Target,
    TargetError,
    TargetUnreachable,
    fetch_destination,
    parse_describe,
    run_timed,
    tail,
)
from edgebench.records import DeviceInfo


class SshTarget(Target):
    """Runs models on a Linux device over SSH: ``ssh://[user@]host[:port]``."""

    def __init__(
        self,
        address: str,
        python: str | None = None,
        accept_new_host_key: bool = False,
        ssh_config: str | os.PathLike | None = None,
        ssh_options: Sequence[str] = (),
        connect_timeout_s: float = 10.0,
        ssh: str = "ssh",
        scp: str = "scp",
        label: str | None = None,
        reuse_connection: bool = True,
    ) -> None:
        super().__init__(address, label, python or "python3")
        self.user, self.host, self.port = parse_ssh_address(address)
        self.accept_new_host_key = accept_new_host_key
        self.ssh_config = str(ssh_config) if ssh_config else None
        self.ssh_options = tuple(_check_option(o) for o in ssh_options)
        self.connect_timeout_s = connect_timeout_s
        self.ssh_bin = ssh
        self.scp_bin = scp
        self._workdir: str | None = None
        # A user's own Control* options win: then edgebench adds none.
        self.reuse_connection = reuse_connection and not any(
            o.lower().startswith("control") for o in self.ssh_options)
        self._control_dir: str | None = None
        self.copy_method: str | None = None  # "scp", "scp -O" or "tar over ssh", once known

    # ----------------------------------------------------------------- the Target interface

    @property
    def workdir(self) -> str:
        """The private folder on the device (made on first use)."""
        if self._workdir is None:
            stem = f"edgebench.{self.label}" if self.label else "edgebench"
            res = self._ssh(f'mktemp -d "${{TMPDIR:-/tmp}}/{stem}.XXXXXXXX"', timeout_s=60)
            path = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
            if res.returncode != 0 or not path.startswith("/"):
                raise TargetError(
                    f"{self.address}: cannot make a temporary folder on the device "
                    f"({tail(res.stderr)}); check that /tmp (or $TMPDIR) is writable there"
                )
            self._workdir = path
        return self._workdir

    def push(self, paths: Sequence[Path]) -> dict[Path, str]:
        """Copy every file in one step: one scp (or scp -O, or one tar stream) for all."""
        placed = self.remote_names(paths, self.workdir)
        if not placed:
            return {}
        size = sum(p.stat().st_size for p, _ in placed)
        with tempfile.TemporaryDirectory(prefix="edgebench-push-") as staging:
            # The device's names, as links to the user's files: one copy command for all.
            links = []
            for p, remote in placed:
                link = Path(staging) / Path(remote).name
                link.symlink_to(p.resolve())
                links.append(link)
            self._copy_in(links, Path(staging), timeout_s=max(60.0, size / 1e6))
        return {p: remote for p, remote in placed}

    def _copy_in(self, links: list[Path], staging: Path, timeout_s: float) -> None:
        """scp; without an SFTP server on the device, scp -O; without scp there, tar."""
        methods = [self.copy_method] if self.copy_method else ["scp", "scp -O", "tar over ssh"]
        failures = []
        for method in methods:
            if method == "tar over ssh":
                res = self._tar_in(links, staging, timeout_s)
                if res.returncode == 255:  # ssh itself failed: the device is gone
                    self._raise_for(res, "copying files")
            else:
                legacy = ["-O"] if method == "scp -O" else []
                argv = [self.scp_bin, "-q", *legacy, *self._options(scp=True),
                        *map(str, links), f"{self._scp_host()}:{self.workdir}/"]
                res = self._call(argv, timeout_s=timeout_s)
            if res.returncode == 0:
                self.copy_method = method
                return
            failures.append((method, res))
            if not _no_file_service(res.stderr) or self.copy_method:
                break  # a real failure (unreachable, refused, disk full): say it
        method, res = failures[-1]
        if len(failures) > 1:
            tried = "; ".join(f"{m}: {tail(r.stderr)}" for m, r in failures)
            raise TargetError(
                f"{self.address}: cannot copy files to the device ({tried}); it has no SFTP "
                "server, no scp and no tar: enable 'Subsystem sftp' in its sshd_config or "
                "install scp there"
            )
        self._raise_for(res, f"copying {links[0].name}")

    def _tar_in(self, links: list[Path], staging: Path, timeout_s: float) -> CommandResult:
        """One tar archive of the files, unpacked in the work folder by the device's tar."""
        archive = staging / ".edgebench-files.tar"
        with tarfile.open(archive, "w", dereference=True) as tar:
            for link in links:
                tar.add(link, arcname=link.name)
        script = f"tar -C {shlex.quote(self.workdir)} -xf -"
        return self._call([self.ssh_bin, *self._options(), "--", self.destination(), script],
                          timeout_s, stdin_path=archive)

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        res = run_timed(self._ssh, self.workdir, argv, timeout_s, self.address)
        if res.returncode == 255:
            self._raise_for(res, "running a command")
        if res.returncode == 127 and str(argv[0]) == self._python:
            raise RuntimeMissing(
                f"{self.address}: there is no {self._python} on the device; install Python "
                "3.9+ there (sudo apt install python3 python3-numpy) or name another with --python"
            )
        return res

    def fetch(self, remote: str, local: Path) -> Path:
        local = fetch_destination(local)
        if self.copy_method == "tar over ssh":  # no SFTP and no scp there: stream the file
            res = self._call([self.ssh_bin, *self._options(), "--", self.destination(),
                              f"cat {shlex.quote(remote)}"], 300, stdout_path=local.resolve())
        else:
            legacy = ["-O"] if self.copy_method == "scp -O" else []
            argv = [self.scp_bin, "-q", *legacy, *self._options(scp=True),
                    f"{self._scp_host()}:{remote}", str(local.resolve())]
            res = self._call(argv, timeout_s=300)
        if res.returncode != 0:
            self._raise_for(res, f"fetching {remote}")
        return local

    def describe(self) -> DeviceInfo:
        res = self._ssh(DESCRIBE_SCRIPT, timeout_s=60)
        return parse_describe(res.stdout)

    def temperature_c(self) -> float | None:
        res = self._ssh(
            "cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null | sort -n | tail -1",
            timeout_s=60,
        )
        raw = res.stdout.strip()
        return round(int(raw) / 1000.0, 1) if raw.lstrip("-").isdigit() else None

    def facts(self) -> dict[str, object]:
        """How files reached the device and whether one connection served the bench."""
        out: dict[str, object] = {"ssh_connection": "one, reused (ControlMaster)"
                                  if self.reuse_connection else "one per command"}
        if self.copy_method:
            out["file_copy"] = COPY_METHODS[self.copy_method]
        return out

    def cleanup(self) -> None:
        """Remove the device's work folder, then stop the shared connection and remove its
        socket folder. After a lost connection it says what to remove."""
        try:
            if self._workdir is not None:
                workdir, self._workdir = self._workdir, None
                try:
                    res = self._ssh(f"rm -rf -- {shlex.quote(workdir)}", timeout_s=60)
                    ok = res.returncode == 0
                except TargetError:
                    ok = False
                if not ok:
                    print(
                        f"edgebench: could not remove {workdir} on {self.address}; remove it "
                        "by hand",
                        file=sys.stderr,
                    )
        finally:
            self._close_master()

    def _close_master(self) -> None:
        """Stop the ControlPersist master (``ssh -O exit``) and remove its socket folder."""
        if self._control_dir is None:
            return
        control, self._control_dir = self._control_dir, None
        if any(Path(control).iterdir()):
            # The same host, port and user as the master's, or %C names another socket.
            port = ["-p", str(self.port)] if self.port is not None else []
            argv = [self.ssh_bin, *self._base_options(), *port, "-o",
                    f"ControlPath={control}/%C", "-O", "exit", "--", self.destination()]
            res = self._call(argv, timeout_s=30)
            if res.returncode != 0:
                print(f"edgebench: could not stop the ssh connection to {self.address} "
                      f"({tail(res.stderr)}); it ends by itself within 2 minutes",
                      file=sys.stderr)
        shutil.rmtree(control, ignore_errors=True)

    # ----------------------------------------------------------------- ssh plumbing

    def destination(self) -> str:
        """``user@host`` or ``host``, as ssh takes it (host aliases from ~/.ssh/config work)."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def _scp_host(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" if self.user else host

    def _control_options(self) -> list[str]:
        """One connection for the whole bench, its socket in a private folder (0700)."""
        if not self.reuse_connection:
            return []
        if self._control_dir is None:
            # A socket path must stay under ~104 bytes: the short system temp folder.
            base = tempfile.gettempdir()
            self._control_dir = tempfile.mkdtemp(
                prefix="edgebench-ssh-", dir=base if len(base) < 40 else "/tmp")
        return ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._control_dir}/%C",
                "-o", "ControlPersist=120"]

    def _base_options(self) -> list[str]:
        return ["-F", self.ssh_config] if self.ssh_config else []

    def _options(self, scp: bool = False) -> list[str]:
        opts: list[str] = self._base_options() + self._control_options()
        if self.port is not None:
            opts += ["-P" if scp else "-p", str(self.port)]
        checking = "accept-new" if self.accept_new_host_key else "yes"
        for o in (
            "BatchMode=yes",  # never prompt: a password or passphrase prompt would hang a run
            f"StrictHostKeyChecking={checking}",
            f"ConnectTimeout={max(1, math.ceil(self.connect_timeout_s))}",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
            *self.ssh_options,
        ):
            opts += ["-o", o]
        return opts

    def _ssh(self, script: str, timeout_s: float, argv: Sequence[str] = ()) -> CommandResult:
        res = self._call(
            [self.ssh_bin, *self._options(), "--", self.destination(), script], timeout_s
        )
        if res.returncode == 255 and not argv:
            self._raise_for(res, "connecting")
        return CommandResult(tuple(argv) or res.argv, res.returncode, res.stdout, res.stderr,
                             res.seconds)

    def _call(
        self,
        argv: list[str],
        timeout_s: float,
        stdin_path: Path | None = None,
        stdout_path: Path | None = None,
    ) -> CommandResult:
        res, _ = self.processes.run(
            argv, timeout_s, "install the OpenSSH client (sudo apt install openssh-client)",
            stdin_path=stdin_path, stdout_path=stdout_path,
        )
        return res

    def _raise_for(self, res: CommandResult, doing: str) -> None:
        raise ssh_error(self, res.stderr, doing)

    def copy_id_hint(self) -> str:
        port = f"-p {self.port} " if self.port is not None else ""
        return f"ssh-copy-id {port}{self.destination()}"

    def resolved(self) -> dict[str, str]:
        """What ssh itself makes of the address (``ssh -G``: no connection is made): the real
        host name, port and known-hosts file, with ~/.ssh/config aliases and -F applied."""
        argv = [self.ssh_bin, "-G", *self._base_options()]
        argv += ["-p", str(self.port)] if self.port is not None else []
        for o in self.ssh_options:
            argv += ["-o", o]
        try:
            out = subprocess.run([*argv, "--", self.destination()], capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return {}
        found: dict[str, str] = {}
        for line in out.stdout.splitlines():
            key, _, value = line.partition(" ")
            found.setdefault(key, value)  # userknownhostsfile lists several: the first
        return found

    def keyscan_hint(self) -> str:
        """``ssh-keyscan`` does not read ssh_config, so the hint names the real host and port
        (``ssh -G``) and the known-hosts file ssh will read."""
        g = self.resolved()
        host = g.get("hostname") or self.host
        port = g.get("port") or (str(self.port) if self.port is not None else "22")
        known = (g.get("userknownhostsfile") or "~/.ssh/known_hosts").split()[0]
        home = str(Path.home())
        if known.startswith(home + "/"):
            known = "~" + known[len(home):]
        port_flag = f"-p {port} " if port != "22" else ""
        return f"ssh-keyscan {port_flag}{host} >> {known}"

    def known_hosts_name(self) -> str:
        """How known_hosts names this device: ``host`` or ``[host]:port`` (for ssh-keygen -R)."""
        g = self.resolved()
        host = g.get("hostname") or self.host
        port = g.get("port") or (str(self.port) if self.port is not None else "22")
        return host if port == "22" else f"'[{host}]:{port}'"


#: What facts() says about each way of copying files.
COPY_METHODS = {
    "scp": "scp (SFTP)",
    "scp -O": "scp -O (the legacy SCP protocol: the device has no SFTP server)",
    "tar over ssh": "a tar stream over ssh (the device has no SFTP server and no scp)",
}


def _no_file_service(stderr: str) -> bool:
    """What scp prints when the device's sshd has no SFTP subsystem (OpenSSH 9's scp speaks
    SFTP) or no scp program: the login worked, the file service did not."""
    return any(s in stderr for s in ("Connection closed", "subsystem request failed",
                                     "scp: not found", "scp: command not found",
                                     "lost connection"))


def ssh_error(target: SshTarget, stderr: str, doing: str) -> TargetError:
    """Turn what ssh printed into one line that names the fix."""
    text = stderr or ""
    where = target.address
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "has changed and you have" in text:
        return TargetUnreachable(
            f"{where}: the host key CHANGED since you last connected; if the device was "
            f"reinstalled, remove the old key with ssh-keygen -R {target.known_hosts_name()} "
            "and connect again "
            "(otherwise someone may be in the middle)"
        )
    if "Host key verification failed" in text or "No " in text and "host key is known" in text:
        return TargetUnreachable(
            f"{where}: the device's host key is not known; check it and add it with "
            f"{target.keyscan_hint()}, or pass --accept-new-host-key"
        )
    if "Permission denied" in text:
        return TargetUnreachable(
            f"{where}: the device refused the key (Permission denied); add your key with "
            f"{target.copy_id_hint()}, or name the right one in ~/.ssh/config (IdentityFile)"
        )
    if "Connection refused" in text:
        port = target.port or 22
        return TargetUnreachable(
            f"{where}: nothing accepts SSH on port {port} (connection refused); enable the SSH "
            "server on the device (sudo systemctl enable --now ssh) or fix the port"
        )
    if "Could not resolve hostname" in text:
        return TargetUnreachable(
            f"{where}: the host name {target.host!r} does not resolve; check the spelling or "
            "use the device's IP address"
        )
    if any(s in text for s in ("timed out", "No route to host", "Network is unreachable",
                               "Connection closed", "Connection reset", "Broken pipe")):
        return TargetUnreachable(
            f"{where}: the device cannot be reached ({tail(text)}); check that it is on, on "
            "the network, and that the address is right"
        )
    if not text.strip():
        return TargetUnreachable(
            f"{where}: ssh gave up while {doing} with no message; check that the device is on "
            "and reachable with: ssh " + target.destination()
        )
    return TargetUnreachable(f"{where}: ssh failed while {doing}: {tail(text)}")


def parse_ssh_address(address: str) -> tuple[str | None, str, int | None]:
    """``ssh://[user@]host[:port]`` → (user, host, port); a message naming the fix otherwise."""
    parts = urllib.parse.urlsplit(address)
    usage = "use ssh://[user@]host[:port], e.g. ssh://pi@raspberrypi.local"
    if parts.scheme != "ssh" or not parts.hostname:
        raise TargetError(f"{address!r} is not an SSH address; {usage}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password:
        raise TargetError(f"{address!r} has parts an SSH target does not take; {usage}")
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"{address!r} has a bad port; {usage}") from None
    # urlsplit lower-cases hostname; ssh config aliases are case-sensitive, so keep the case.
    netloc = parts.netloc.rsplit("@", 1)[-1]
    host = netloc[1:netloc.index("]")] if netloc.startswith("[") else netloc.split(":", 1)[0]
    user = urllib.parse.unquote(parts.username) if parts.username else None
    for word, what in ((host, "host"), (user or "", "user")):
        if word.startswith("-") or any(c.isspace() for c in word):
            raise TargetError(f"{address!r}: the {what} {word!r} is not valid; {usage}")
    return user, host, port


def _check_option(option: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*[ =].+", option or ""):
        raise TargetError(
            f"--ssh-option {option!r} is not an ssh option; use Key=Value, "
            "e.g. --ssh-option IdentityFile=~/.ssh/pi_ed25519"
        )
    return option
