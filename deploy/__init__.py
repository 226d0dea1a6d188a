"""Targets: getting the runner, models and eval data onto a device and running them there."""

from edgebench.deploy.adb import AdbTarget
from edgebench.deploy.base import (
    CommandResult,
    RuntimeMissing,
    Target,
    TargetError,
    TargetTimeout,
    TargetUnreachable,
    register_target,
    target_for,
)
from edgebench.deploy.local import LocalTarget
from edgebench.deploy.ssh import SshTarget

register_target("local", LocalTarget)
register_target("ssh", SshTarget)
register_target("adb", AdbTarget)

__all__ = [
    "AdbTarget",
    "CommandResult",
    "LocalTarget",
    "RuntimeMissing",
    "SshTarget",
    "Target",
    "TargetError",
    "TargetTimeout",
    "TargetUnreachable",
    "register_target",
    "target_for",
]
