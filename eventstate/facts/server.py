"""Facts about the host's system: its OS, packages and services."""

from __future__ import annotations

import shlex
from typing import Any

from eventstate.facts.base import Fact

__all__ = [
    "Arch",
    "Command",
    "DebPackages",
    "LinuxDistribution",
    "SystemdStatus",
    "Users",
    "Which",
]


class Command(Fact):
    """The output of any shell command, as one string (pyinfra's ``server.Command``)."""

    name = "server.Command"

    def command(self, command: str) -> str:
        """The command itself."""
        return command

    def process(self, lines: list[str]) -> str:
        """Its output lines, joined."""
        return "\n".join(lines)


class Arch(Fact):
    """The machine's architecture, ``uname -m`` (pyinfra's ``server.Arch``)."""

    name = "server.Arch"

    def command(self) -> str:
        """Ask uname."""
        return "uname -m"

    def process(self, lines: list[str]) -> str:
        """Its one line."""
        return "\n".join(lines)


class Users(Fact):
    """The host's users, ``/etc/passwd``'s entries: name -> uid, gid, comment, home, shell.

    pyinfra's ``server.Users`` also reads each user's groups and more; this holds
    what ``passwd`` says.
    """

    name = "server.Users"

    def command(self) -> str:
        """Read the user database (``getent``: NSS users too)."""
        return "getent passwd 2>/dev/null || cat /etc/passwd"

    def process(self, lines: list[str]) -> dict[str, dict[str, Any]]:
        """``name:password:uid:gid:comment:home:shell`` lines."""
        users: dict[str, dict[str, Any]] = {}
        for line in lines:
            parts = line.split(":")
            if len(parts) != 7:
                continue
            name, _, uid, gid, comment, home, shell = parts
            users[name] = {
                "uid": int(uid) if uid.isdigit() else None,
                "gid": int(gid) if gid.isdigit() else None,
                "comment": comment,
                "home": home,
                "shell": shell,
            }
        return users

    def default(self) -> dict[str, dict[str, Any]]:
        """No users known."""
        return {}


class Which(Fact):
    """The path of a command by ``command -v``, or None (pyinfra's ``server.Which``)."""

    name = "server.Which"

    def command(self, command: str) -> str:
        """``command -v``, which succeeds with no output when there is none."""
        return f"command -v {shlex.quote(command)} || true"

    def process(self, lines: list[str]) -> str | None:
        """The path, or None."""
        return "\n".join(lines) or None


class LinuxDistribution(Fact):
    """``/etc/os-release`` as a dict (``ID``, ``VERSION_ID``, ``PRETTY_NAME``...)."""

    name = "server.LinuxDistribution"

    def command(self) -> str:
        """Read os-release."""
        return "cat /etc/os-release 2>/dev/null || true"

    def process(self, lines: list[str]) -> dict[str, str]:
        """KEY=value lines, unquoted."""
        release: dict[str, str] = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep:
                release[key.strip()] = value.strip().strip('"')
        return release


class DebPackages(Fact):
    """Installed Debian packages: name -> version."""

    name = "deb.DebPackages"

    def command(self) -> str:
        """List installed packages."""
        return "dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\\n' 2>/dev/null || true"

    def process(self, lines: list[str]) -> dict[str, str]:
        """Only installed packages: status ``ii``, or ``hi`` (installed, on hold)."""
        packages: dict[str, str] = {}
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] in ("ii", "hi"):
                packages[parts[1].split(":")[0]] = parts[2]
        return packages

    def default(self) -> Any:
        """No packages known."""
        return {}


class SystemdStatus(Fact):
    """Whether a systemd service is running and enabled."""

    name = "systemd.SystemdStatus"

    def command(self, service: str) -> str:
        """Ask systemctl (a missing systemctl answers 'unknown')."""
        quoted = shlex.quote(service)
        return (
            f"(systemctl is-active {quoted} 2>/dev/null || true); "
            f"(systemctl is-enabled {quoted} 2>/dev/null || true)"
        )

    def process(self, lines: list[str]) -> dict[str, bool]:
        """``{"running": ..., "enabled": ...}``."""
        active = lines[0].strip() if lines else ""
        enabled = lines[1].strip() if len(lines) > 1 else ""
        return {"running": active == "active", "enabled": enabled == "enabled"}

    def default(self) -> dict[str, bool]:
        """Status unknown: neither running nor enabled."""
        return {"running": False, "enabled": False}
