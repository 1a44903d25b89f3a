"""Server operations: shell commands and systemd services."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from eventstate.commands import HiddenValue, StringCommand
from eventstate.context import current
from eventstate.facts.server import SystemdStatus
from eventstate.operation import operation

__all__ = ["service", "shell"]


@operation
def shell(
    commands: str | StringCommand | HiddenValue | list[str | StringCommand | HiddenValue],
) -> Iterator[str | StringCommand | HiddenValue]:
    """Run shell commands, as given (not idempotent: they always run).

    Args:
        commands: One command, or a list run in order. A command may be a
            :class:`~eventstate.StringCommand` or a whole :class:`~eventstate.Secret`
            (it runs as itself and is shown as ``***``).
    """
    if isinstance(commands, (str, StringCommand, HiddenValue)):
        yield commands
    else:
        yield from commands


@operation
def service(
    service: str,
    running: bool = True,
    restarted: bool = False,
    enabled: bool | None = None,
) -> Iterator[str]:
    """Manage a systemd service: started or stopped, enabled or not.

    Args:
        service: The unit's name.
        running: Whether it should be running.
        restarted: Restart it (if it was already running).
        enabled: Whether it should start at boot; None leaves it alone.
    """
    _, host = current()
    status = host.get_fact(SystemdStatus, service)
    unit = shlex.quote(service)
    if running and not status["running"]:
        yield f"systemctl start {unit}"
    elif not running and status["running"]:
        yield f"systemctl stop {unit}"
    elif restarted and status["running"]:
        yield f"systemctl restart {unit}"
    if enabled is True and not status["enabled"]:
        yield f"systemctl enable {unit}"
    elif enabled is False and status["enabled"]:
        yield f"systemctl disable {unit}"
