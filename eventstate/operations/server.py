"""Server operations: shell commands, systemd services and users."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from eventstate.commands import HiddenValue, StringCommand
from eventstate.context import current
from eventstate.facts.server import SystemdStatus, Users
from eventstate.operation import operation

__all__ = ["service", "shell", "user"]


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


@operation
def user(
    user: str,
    present: bool = True,
    home: str | None = None,
    shell: str | None = None,
    group: str | None = None,
    system: bool = False,
    uid: int | None = None,
    comment: str | None = None,
) -> Iterator[str]:
    """A user exists, or does not (pyinfra's ``server.user``, without its groups and keys).

    Args:
        user: The user's name.
        present: Whether the user should exist.
        home: Its home directory.
        shell: Its login shell.
        group: Its primary group (when the user is created: passwd holds only its id).
        system: Create it as a system user.
        uid: Its user id.
        comment: Its comment (GECOS) field.
    """
    _, host = current()
    existing = host.get_fact(Users).get(user)
    if not present:
        if existing:
            yield f"userdel {shlex.quote(user)}"
        return
    wanted = {"home": home, "shell": shell, "uid": uid, "comment": comment}
    flags = {"home": "-d", "shell": "-s", "uid": "-u", "comment": "-c"}
    if existing is None:
        args = ["useradd"]
        if system:
            args.append("-r")
        if group:
            args += ["-g", group]
        for key, value in wanted.items():
            if value is not None:
                args += [flags[key], str(value)]
        yield shlex.join([*args, user])
        return
    changes = [
        arg
        for key, value in wanted.items()
        if value is not None and existing.get(key) != value
        for arg in (flags[key], str(value))
    ]
    if changes:
        yield shlex.join(["usermod", *changes, user])
