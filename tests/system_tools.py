"""The system tools some tests need, beyond Python and tox: each missing one skips its tests
with one reason that names the Debian packages, and the session ends with one line naming
`.ci/run`. Under `.ci/run` ($EDGEBENCH_REQUIRE_TOOLS=1) a missing tool fails instead, so
nothing hides in CI."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Set by .ci/run, which installs every tool below: a missing one is then a failure, not a skip.
REQUIRE_ENV = "EDGEBENCH_REQUIRE_TOOLS"

#: Tools to treat as missing (comma-separated names of TOOLS), to see on this machine what a
#: machine without them sees: EDGEBENCH_TEST_WITHOUT=sshd,qemu,chromium,gcc tox
WITHOUT_ENV = "EDGEBENCH_TEST_WITHOUT"

#: Every skip reason of a missing tool starts with this, so the session summary can count them.
PREFIX = "needs a system tool:"


@dataclass(frozen=True)
class Tool:
    """A program some tests run, and the Debian packages that bring it."""

    name: str
    programs: tuple[str, ...]  # any one of them will do (a name on PATH, or an absolute path)
    packages: str
    why: str

    def path(self) -> str | None:
        if self.name in os.environ.get(WITHOUT_ENV, "").split(","):
            return None
        for program in self.programs:
            found = program if Path(program).is_absolute() else shutil.which(program)
            if found and Path(found).exists():
                return found
        return None


TOOLS = {
    "sshd": Tool("sshd", ("/usr/sbin/sshd",), "openssh-server openssh-client",
                 "the SSH target's tests start a loopback sshd"),
    "ssh": Tool("ssh", ("ssh",), "openssh-client", "the SSH target runs the ssh client"),
    "qemu": Tool("qemu", ("qemu-aarch64-static", "qemu-aarch64"), "qemu-user-static",
                 "the emulated Raspberry Pi runs an arm64 Python under qemu-user"),
    "chromium": Tool("chromium", ("chromium", "chromium-browser"), "chromium",
                     "the report is rendered in headless Chromium"),
    "gcc": Tool("gcc", ("gcc",), "gcc libc6-dev",
                "the delegate tests compile a tiny TFLite delegate plugin"),
}


def strict() -> bool:
    """True under .ci/run (and in any CI that sets the variable): no tool may be missing."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def need(*names: str) -> str:
    """The path of the first named tool; skips (fails under .ci/run) when any is missing."""
    paths = []
    for name in names:
        tool = TOOLS[name]
        found = tool.path()
        if found is None:
            reason = (f"{PREFIX} {tool.name} ({tool.why}): apt-get install {tool.packages}, "
                      "or run .ci/run")
            if strict():
                pytest.fail(f"{reason} [${REQUIRE_ENV} is set: a missing tool is a failure]")
            pytest.skip(reason)
        paths.append(found)
    return paths[0]


def summary_line(reasons: list[str]) -> str | None:
    """One line after the session: which tools were missing and how to get them."""
    missing = sorted({r.split(PREFIX, 1)[1].split("(", 1)[0].strip()
                      for r in reasons if PREFIX in r})
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(" ".join(TOOLS[m].packages for m in missing).split()))
    return (f"edgebench: {sum(PREFIX in r for r in reasons)} tests skipped because this machine "
            f"lacks {', '.join(missing)}; .ci/run installs them "
            f"(apt-get install {packages}) and then runs them all")
