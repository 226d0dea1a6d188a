"""A machine without sshd, qemu, chromium or gcc: their tests skip with one reason each and the
session names .ci/run; under .ci/run ($EDGEBENCH_REQUIRE_TOOLS) a missing tool fails."""

from __future__ import annotations

import pytest
from system_tools import PREFIX, REQUIRE_ENV, TOOLS, WITHOUT_ENV, need, summary_line


def test_a_missing_tool_skips_with_one_reason_naming_its_packages(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    monkeypatch.setenv(WITHOUT_ENV, "gcc")
    with pytest.raises(pytest.skip.Exception) as exc:
        need("gcc")
    reason = str(exc.value)
    assert reason.startswith(PREFIX) and "apt-get install gcc libc6-dev" in reason
    assert ".ci/run" in reason and "\n" not in reason


def test_under_ci_run_a_missing_tool_is_a_failure(monkeypatch):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    monkeypatch.setenv(WITHOUT_ENV, "sshd")
    with pytest.raises(pytest.fail.Exception) as exc:
        need("sshd", "ssh")
    assert "openssh-server" in str(exc.value) and REQUIRE_ENV in str(exc.value)


def test_the_session_summary_names_the_tools_and_ci_run():
    reasons = [f"{PREFIX} sshd (x): apt-get install openssh-server openssh-client, or run .ci/run",
               f"{PREFIX} sshd (x): apt-get install openssh-server openssh-client, or run .ci/run",
               f"{PREFIX} qemu (y): apt-get install qemu-user-static, or run .ci/run",
               "a registry refused numpy==1.26.4"]
    line = summary_line(reasons)
    assert line is not None and line.startswith("edgebench: 3 tests skipped")
    assert "lacks qemu, sshd" in line and ".ci/run" in line
    assert "apt-get install qemu-user-static openssh-server openssh-client" in line
    assert summary_line(["a registry refused numpy==1.26.4"]) is None


def test_ci_run_sets_the_variable_that_makes_a_skip_a_failure():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert f"export {REQUIRE_ENV}=1" in script
    for tool in TOOLS.values():  # .ci/run installs what each tool's reason names
        assert all(pkg in script for pkg in tool.packages.split()), tool.name
