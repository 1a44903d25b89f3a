"""What operations yield: shell commands, Python callables, file uploads.

A shell command is built from parts; a part wrapped in :class:`Secret` is
sent to the host as is but shown -- in output and in the log -- as ``***``.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "Command",
    "FileDownloadCommand",
    "FileUploadCommand",
    "FunctionCommand",
    "Secret",
    "StringCommand",
    "make_command",
    "transfer_shown",
]

MASK = "***"


class Secret(str):
    """A value that must never be shown: passwords, tokens.

    It behaves as the string it wraps, but commands built with it show
    ``***`` in its place wherever they are displayed or recorded.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


class StringCommand:
    """A shell command made of parts, joined with spaces.

    Args:
        *parts: Strings (used as written) and :class:`Secret` values.
        quote: Quote each part for the shell (for arguments that may hold spaces).
    """

    __slots__ = ("_masked", "_raw", "parts", "quote")

    def __init__(self, *parts: str, quote: bool = False) -> None:
        self.parts = tuple(parts)
        self.quote = quote
        # Joined once: a command is shown, recorded and run, each asking for its text.
        self._raw = self._join(str)
        self._masked = (
            self._join(lambda part: MASK if isinstance(part, Secret) else part)
            if any(isinstance(part, Secret) for part in self.parts)
            else self._raw
        )

    def _join(self, show: Callable[[str], str]) -> str:
        if self.quote:
            return " ".join(shlex.quote(show(part)) for part in self.parts)
        return " ".join(show(part) for part in self.parts)

    def raw(self) -> str:
        """The command as the host runs it, secrets included."""
        return self._raw

    def masked(self) -> str:
        """The command as it may be shown and recorded, secrets as ``***``."""
        return self._masked

    def secrets(self) -> list[str]:
        """The secret values in the command (to scrub from its output)."""
        return [str(part) for part in self.parts if isinstance(part, Secret) and part]

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"StringCommand({self.masked()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringCommand):
            return self.raw() == other.raw()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.raw())


class FunctionCommand:
    """A Python callable run on the controller as one of an operation's steps.

    The callable gets ``(state, host, *args, **kwargs)``; returning False (or
    raising) fails the command.
    """

    __slots__ = ("args", "function", "kwargs")

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs

    def masked(self) -> str:
        """How the log shows the step."""
        return f"python: {getattr(self.function, '__qualname__', repr(self.function))}"

    def __str__(self) -> str:
        return self.masked()


class FileUploadCommand:
    """Upload ``content`` to ``dest`` on the host, through the connector."""

    __slots__ = ("content", "dest", "mode")

    def __init__(self, content: bytes, dest: str, mode: str | None = None) -> None:
        self.content = content
        self.dest = dest
        self.mode = mode

    def masked(self) -> str:
        """How the log shows the upload: its size and SHA-256, never its content."""
        return transfer_shown("upload", self.dest, self.content)

    def __str__(self) -> str:
        return self.masked()


class FileDownloadCommand:
    """Download the host's file ``src`` to ``dest`` on the controller, through the connector."""

    __slots__ = ("dest", "src")

    def __init__(self, src: str, dest: str) -> None:
        self.src = src
        self.dest = dest

    def masked(self) -> str:
        """How the log shows the download before it ran (the record adds size and hash)."""
        return f"download {self.src} to {self.dest}"

    def __str__(self) -> str:
        return self.masked()


def transfer_shown(verb: str, path: str, content: bytes) -> str:
    """How the log shows a file sent or fetched: ``upload /etc/motd (12 bytes, sha256 ab12…)``."""
    digest = hashlib.sha256(content).hexdigest()
    return f"{verb} {path} ({len(content)} bytes, sha256 {digest})"


Command = StringCommand | FunctionCommand | FileUploadCommand | FileDownloadCommand


def make_command(value: Any) -> Command:
    """The command an operation yielded: a plain string becomes a :class:`StringCommand`.

    Raises:
        TypeError: the value is not a command.
    """
    if isinstance(value, (StringCommand, FunctionCommand, FileUploadCommand, FileDownloadCommand)):
        return value
    if isinstance(value, str):
        return StringCommand(value.strip())
    raise TypeError(f"{value!r} is not a command (yield a string or a command object)")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
