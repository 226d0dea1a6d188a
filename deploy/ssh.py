"""The SSH target: a Raspberry Pi or any Linux board with Python, through the system OpenSSH.

Uses ``ssh`` and ``scp`` from the user's OpenSSH, so ``~/.ssh/config``, the agent, keys and
jump hosts work unchanged. Every command is an argument list; the one string that reaches the
remote shell is built from :func:`shlex.quote`-d words. Host-key checking stays on
(``StrictHostKeyChecking=yes``); accepting a new host key is the explicit
``accept_new_host_key`` option (``--accept-new-host-key``).

Files go to a private folder made by ``mktemp -d`` on the device, under names this module
chooses (``03-model.tflite``), so a local file name with spaces, quotes or ``;`` never reaches
a shell. :meth:`SshTarget.cleanup` removes the folder, also after a failure.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from edgebench.deploy.base import (
    DESCRIBE_SCRIPT,
    GRACE_S,
    KILL_AFTER_S,
    CommandResult,
    RuntimeMissing,
    Target,
    TargetError,
    TargetUnreachable,
    parse_describe,
    tail,
    timed_out,
    timed_shell_script,
    timeout_error,
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
    ) -> None:
        super().__init__(address, label)
        self.user, self.host, self.port = parse_ssh_address(address)
        self._python = python or "python3"
        self.accept_new_host_key = accept_new_host_key
        self.ssh_config = str(ssh_config) if ssh_config else None
        self.ssh_options = tuple(_check_option(o) for o in ssh_options)
        self.connect_timeout_s = connect_timeout_s
        self.ssh_bin = ssh
        self.scp_bin = scp
        self._workdir: str | None = None

    # ----------------------------------------------------------------- the Target interface

    @property
    def python(self) -> str:
        return self._python

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
        placed: dict[Path, str] = {}
        for p, remote in self.remote_names(paths, self.workdir):
            # An absolute local path: scp would read "a:b.tflite" as host "a".
            argv = [self.scp_bin, "-q", *self._options(scp=True), str(p.resolve()),
                    f"{self._scp_host()}:{remote}"]
            res = self._call(argv, timeout_s=max(60.0, p.stat().st_size / 1e6))
            if res.returncode != 0:
                self._raise_for(res, f"copying {p.name}")
            placed[p] = remote
        return placed

    def run(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        script = timed_shell_script(self.workdir, argv, timeout_s)
        start = time.monotonic()
        res = self._ssh(script, timeout_s=timeout_s + KILL_AFTER_S + GRACE_S, argv=argv)
        if timed_out(res.returncode, time.monotonic() - start, timeout_s):
            raise timeout_error(argv, self.address, timeout_s)
        if res.returncode == 255:
            self._raise_for(res, "running a command")
        if res.returncode == 127 and argv[0] == self._python:
            raise RuntimeMissing(
                f"{self.address}: there is no {self._python} on the device; install Python "
                "3.9+ there (sudo apt install python3 python3-numpy) or name another with --python"
            )
        return res

    def fetch(self, remote: str, local: Path) -> Path:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        argv = [self.scp_bin, "-q", *self._options(scp=True), f"{self._scp_host()}:{remote}",
                str(local.resolve())]
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

    def cleanup(self) -> None:
        """Remove the device's work folder. After a lost connection it says what to remove."""
        if self._workdir is None:
            return
        workdir, self._workdir = self._workdir, None
        try:
            res = self._ssh(f"rm -rf -- {shlex.quote(workdir)}", timeout_s=60)
            ok = res.returncode == 0
        except TargetError:
            ok = False
        if not ok:
            print(
                f"edgebench: could not remove {workdir} on {self.address}; remove it by hand",
                file=sys.stderr,
            )

    # ----------------------------------------------------------------- ssh plumbing

    def destination(self) -> str:
        """``user@host`` or ``host``, as ssh takes it (host aliases from ~/.ssh/config work)."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def _scp_host(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" if self.user else host

    def _options(self, scp: bool = False) -> list[str]:
        opts: list[str] = []
        if self.ssh_config:
            opts += ["-F", self.ssh_config]
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

    def _call(self, argv: list[str], timeout_s: float) -> CommandResult:
        res, _ = self.processes.run(
            argv, timeout_s, "install the OpenSSH client (sudo apt install openssh-client)"
        )
        return res

    def _raise_for(self, res: CommandResult, doing: str) -> None:
        raise ssh_error(self, res.stderr, doing)

    def copy_id_hint(self) -> str:
        port = f"-p {self.port} " if self.port is not None else ""
        return f"ssh-copy-id {port}{self.destination()}"

    def keyscan_hint(self) -> str:
        port = f"-p {self.port} " if self.port is not None else ""
        return f"ssh-keyscan {port}{self.host} >> ~/.ssh/known_hosts"


def ssh_error(target: SshTarget, stderr: str, doing: str) -> TargetError:
    """Turn what ssh printed into one line that names the fix."""
    text = stderr or ""
    where = target.address
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "has changed and you have" in text:
        return TargetUnreachable(
            f"{where}: the host key CHANGED since you last connected; if the device was "
            f"reinstalled, remove the old key with ssh-keygen -R {target.host} and connect again "
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
