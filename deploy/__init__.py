"""Targets: moving files to a device, running commands there, describing it, cleaning up.

One module per kind of device, registered by the scheme of its address. Transport only: what
is measured, and how, is the bench stage's business (its flows).
"""

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
    target_scheme,
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
    "target_scheme",
]
