"""Facts about files and directories."""

from __future__ import annotations

import shlex
from typing import Any

from eventstate.commands import HiddenValue, QuoteString, StringCommand
from eventstate.facts.base import Fact

__all__ = ["Directory", "File", "FileHasLine", "FindInFile", "Sha256File"]

_ABSENT = "__eventstate_absent__"


def _stat(path: str) -> str:
    quoted = shlex.quote(path)
    return f"stat -c '%F|%a|%U|%G|%s' {quoted} 2>/dev/null || echo {_ABSENT}"


def _parse_stat(lines: list[str]) -> dict[str, Any] | None:
    if not lines or lines[0] == _ABSENT:
        return None
    kind, mode, user, group, size = lines[0].split("|")
    return {"type": kind, "mode": mode, "user": user, "group": group, "size": int(size)}


class File(Fact):
    """A regular file's mode, owner, group and size; None if absent, False if not a file."""

    name = "files.File"

    def command(self, path: str) -> str:
        """``stat`` the path."""
        return _stat(path)

    def process(self, lines: list[str]) -> Any:
        """The stat fields, or None / False."""
        info = _parse_stat(lines)
        if info is None:
            return None
        return info if info["type"].startswith("regular") else False


class Directory(Fact):
    """A directory's mode, owner and group; None if absent, False if not a directory."""

    name = "files.Directory"

    def command(self, path: str) -> str:
        """``stat`` the path."""
        return _stat(path)

    def process(self, lines: list[str]) -> Any:
        """The stat fields, or None / False."""
        info = _parse_stat(lines)
        if info is None:
            return None
        return info if info["type"] == "directory" else False


class Sha256File(Fact):
    """The SHA-256 of a file's content; None if absent."""

    name = "files.Sha256File"

    def command(self, path: str) -> str:
        """``sha256sum`` the file's content on stdin (so odd names are never escaped)."""
        quoted = shlex.quote(path)
        return f"if [ -f {quoted} ]; then sha256sum < {quoted}; fi"

    def process(self, lines: list[str]) -> str | None:
        """The hex digest, or None."""
        return lines[0].split()[0] if lines and lines[0].strip() else None


class FileHasLine(Fact):
    """Whether a file holds a line, exactly; None if the file is absent.

    For a line that is a :class:`~eventstate.Secret`: the line is sent as one
    quoted part (shown masked) and the answer is ``yes`` or ``no``, so neither
    the command recorded nor its output holds it.
    """

    name = "files.FileHasLine"

    def command(self, path: str, line: str | HiddenValue) -> StringCommand:
        """``grep -qxF`` the file, marking a missing one."""
        quoted = shlex.quote(path)
        return StringCommand(
            f"if [ -f {quoted} ]; then if grep -qxF -e",
            QuoteString(line),
            f"{quoted}; then echo yes; else echo no; fi; else echo {_ABSENT}; fi",
        )

    def process(self, lines: list[str]) -> bool | None:
        """True, False, or None for a missing file."""
        if lines == [_ABSENT]:
            return None
        return lines == ["yes"]


class FindInFile(Fact):
    """The lines of a file matching an extended regex; None if the file is absent."""

    name = "files.FindInFile"

    def command(self, path: str, pattern: str) -> str:
        """``grep -E`` the file, marking a missing one."""
        quoted = shlex.quote(path)
        return (
            f"if [ -f {quoted} ]; then grep -E -e {shlex.quote(pattern)} {quoted} || true; "
            f"else echo {_ABSENT}; fi"
        )

    def process(self, lines: list[str]) -> list[str] | None:
        """The matching lines, or None."""
        if lines == [_ABSENT]:
            return None
        return lines
