"""What operations yield: shell commands, Python callables, file uploads.

A shell command is built from parts; a part wrapped in :class:`Secret` (or
pyinfra's :class:`HiddenValue`) is sent to the host as is but shown -- in
output and in the log -- masked. A secret is not a string: ``str()``, an
f-string, ``+`` or ``format`` give its mask, never its value; only
:func:`revealed`, which the connectors call as they send a command, reads it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from string import Formatter
from typing import IO, Any

__all__ = [
    "Command",
    "FileDownloadCommand",
    "FileUploadCommand",
    "FunctionCommand",
    "HiddenValue",
    "QuoteString",
    "RsyncCommand",
    "Secret",
    "StringCommand",
    "make_command",
    "make_formatted_string_command",
    "revealed",
    "transfer_shown",
]

MASK = "***"


class HiddenValue:
    """A value that must never be shown (pyinfra 3.10's ``HiddenValue``).

    ``str()`` and ``repr()`` give ``masked_value``; :meth:`unmask` gives the
    value. A command made with it runs with the value and shows the mask.
    """

    def __init__(self, content: str = "", masked_value: str = "*MASKED*") -> None:
        self.masked_value = masked_value
        self.raw_value = content

    def unmask(self) -> str:
        """The value itself: for the connector that sends it, and nobody else."""
        return self.raw_value

    def __str__(self) -> str:
        return str(self.masked_value)

    def __repr__(self) -> str:
        return repr(self.masked_value)

    def __format__(self, spec: str) -> str:
        # f"{secret}" is its mask, as str() is.
        return format(str(self), spec)

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __bool__(self) -> bool:
        # `if options.sudo_password:` asks whether there is one, not what it is.
        return bool(self.unmask())


class Secret(HiddenValue):
    """A value that must never be shown: passwords, tokens. Shown as ``***``.

    Give it to a command as one of its parts (``StringCommand("login", Secret(pw))``),
    as an ``_env`` value or ``_sudo_password``, or as a whole command
    (``server.shell(Secret("curl -H 'token: ...' ..."))``).
    """

    def __init__(self, content: str = "") -> None:
        super().__init__(str(content) if isinstance(content, HiddenValue) else content, MASK)
        if isinstance(content, HiddenValue):
            self.raw_value = content.unmask()

    def strip(self, chars: str | None = None) -> Secret:
        """The secret without surrounding whitespace (still a secret)."""
        return Secret(self.unmask().strip(chars))

    def __repr__(self) -> str:
        return "Secret('***')"


def revealed(value: object) -> str:
    """``value`` as text, a secret's own value included: only for what is sent to a host."""
    if isinstance(value, HiddenValue):
        return value.unmask()
    return value if isinstance(value, str) else str(value)


# Where a secret's words end: a whole secret command's output holds its words, not
# all of it (``echo TOKEN`` prints ``TOKEN``).
_WORD_BOUNDARY = re.compile(r"[\s'\"`=;|&<>(){}$,]+")


def _secret_words(value: str) -> list[str]:
    """``value`` and each of its words long enough to mask safely (to scrub from output)."""
    words = [word for word in _WORD_BOUNDARY.split(value) if len(word) >= 6 and word != value]
    # Longest first: a word that contains another is masked whole.
    return [value, *sorted(set(words), key=len, reverse=True)]


class QuoteString:
    """A command part quoted for the shell as a whole (pyinfra 3.10's ``QuoteString``)."""

    __slots__ = ("obj",)

    def __init__(self, obj: str | StringCommand | HiddenValue) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return f"QuoteString({self.obj})"


CommandPart = Any  # str | HiddenValue | StringCommand | QuoteString | anything str() shows


class Command:
    """What an operation yields: the base of every command (pyinfra's ``PyinfraCommand``)."""

    __slots__ = ()

    def masked(self) -> str:
        """How the command is shown and recorded (never a secret)."""
        raise NotImplementedError

    def execute(self, state: Any, host: Any, connector_arguments: Any) -> Any:
        """pyinfra runs a command through this; eventstate's command runner runs them instead."""
        raise NotImplementedError(f"{type(self).__name__} is run by eventstate's command runner")


class StringCommand(Command):
    """A shell command made of parts, joined with spaces (or ``_separator``).

    Args:
        *parts: Strings (used as written), :class:`Secret` / :class:`HiddenValue`
            values, nested :class:`StringCommand` and :class:`QuoteString` parts;
            anything else is shown with ``str()``.
        quote: Quote each part for the shell (for arguments that may hold spaces).
        _separator: What the parts are joined with (pyinfra's argument).
    """

    __slots__ = ("_masked", "_raw", "_secrets", "parts", "quote", "separator")

    def __init__(self, *parts: CommandPart, quote: bool = False, _separator: str = " ") -> None:
        self.parts = tuple(parts)
        self.quote = quote
        self.separator = _separator
        # Joined once: a command is shown, recorded and run, each asking for its text.
        secrets: list[str] = []
        self._raw = self._join(True, secrets)
        self._secrets = tuple(secrets)
        self._masked = self._join(False, []) if secrets else self._raw

    @property
    def bits(self) -> tuple[CommandPart, ...]:
        """The parts (pyinfra's name)."""
        return self.parts

    def _join(self, raw: bool, secrets: list[str]) -> str:
        shown = []
        for part in self.parts:
            quote = self.quote
            if isinstance(part, QuoteString):
                quote, part = True, part.obj
            if isinstance(part, StringCommand):
                secrets += part._secrets
                text = part._raw if raw else part._masked
            elif isinstance(part, HiddenValue):
                value = part.unmask()
                if value:
                    secrets += _secret_words(value)
                text = value if raw else str(part)
            else:
                text = part if isinstance(part, str) else f"{part}"
            shown.append(shlex.quote(text) if quote else text)
        return self.separator.join(shown)

    def raw(self) -> str:
        """The command as the host runs it, secrets included."""
        return self._raw

    def masked(self) -> str:
        """The command as it may be shown and recorded, secrets masked."""
        return self._masked

    def get_raw_value(self) -> str:
        """The command as the host runs it (pyinfra's name for :meth:`raw`)."""
        return self._raw

    def get_masked_value(self) -> str:
        """The command as it is shown (pyinfra's name for :meth:`masked`)."""
        return self._masked

    def secrets(self) -> list[str]:
        """The secret values in the command (to scrub from its output)."""
        return list(self._secrets)

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


def make_formatted_string_command(string: str, *args: Any, **kwargs: Any) -> StringCommand:
    """A command from a format string, split as the shell would, each word formatted.

    pyinfra 3.10's helper: ``make_formatted_string_command("curl -sSLf {0} -o {1}",
    QuoteString(src), QuoteString(dest))`` keeps each value one part (quoted, or
    secret) rather than text pasted into the string.
    """
    formatter = Formatter()
    parts: list[CommandPart] = []
    for word in shlex.split(string):
        pieces: list[CommandPart] = []
        for literal, field, _spec, _conversion in formatter.parse(word):
            if literal:
                pieces.append(literal)
            if field:
                value, _ = formatter.get_field(field, args, kwargs)
                pieces.append(value)
        if len(pieces) == 1:
            parts.append(pieces[0])
        elif len(pieces) > 1:
            parts.append(StringCommand(*pieces, _separator=""))
    return StringCommand(*parts)


class FunctionCommand(Command):
    """A Python callable run on the controller as one of an operation's steps.

    pyinfra 3.10's signature: ``FunctionCommand(function, args, func_kwargs)``.
    As pyinfra's, a function whose parameters include ``state`` and ``host``
    gets them first; returning False (or raising) fails the command.
    """

    __slots__ = ("args", "function", "kwargs")

    def __init__(
        self,
        function: Callable[..., Any],
        args: Iterable[Any] = (),
        func_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(func_kwargs or {})

    def masked(self) -> str:
        """How the log shows the step."""
        return f"python: {getattr(self.function, '__qualname__', repr(self.function))}"

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        name = getattr(self.function, "__name__", repr(self.function))
        return f"FunctionCommand({name}, {self.args!r}, {self.kwargs!r})"


class FileUploadCommand(Command):
    """Upload a local file to ``dest`` on the host, through the connector.

    Args:
        src: The content (bytes), a local file's path, or a file object (read
            once, when the content is first asked for), as pyinfra's ``src``.
        dest: The path on the host.
        mode: Unused by the connectors (the operation sets modes); kept for callers.
    """

    __slots__ = ("_content", "dest", "mode", "src")

    def __init__(
        self, src: bytes | str | os.PathLike[str] | IO[Any], dest: str, mode: str | None = None
    ) -> None:
        self.src = src
        self.dest = dest
        self.mode = mode
        self._content = src if isinstance(src, bytes) else None

    @property
    def content(self) -> bytes:
        """The bytes to send."""
        if self._content is None:
            src = self.src
            if isinstance(src, (str, os.PathLike)):
                data = Path(src).read_bytes()
            else:
                read = src.read()  # type: ignore[union-attr]
                data = read.encode() if isinstance(read, str) else read
            self._content = data
        return self._content

    def masked(self) -> str:
        """How the log shows the upload: its size and SHA-256, never its content."""
        return transfer_shown("upload", self.dest, self.content)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        # Never the content: a path is shown, bytes by their size.
        src = f"<{len(self.src)} bytes>" if isinstance(self.src, bytes) else self.src
        return f"FileUploadCommand({src}, {self.dest})"

    def __eq__(self, other: object) -> bool:
        # pyinfra's: the same source (path, bytes, or the very file object) and dest.
        if isinstance(other, FileUploadCommand):
            return (self.src, self.dest) == (other.src, other.dest)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((FileUploadCommand, self.dest))


class FileDownloadCommand(Command):
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

    def __repr__(self) -> str:
        return f"FileDownloadCommand({self.src}, {self.dest})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileDownloadCommand):
            return (self.src, self.dest) == (other.src, other.dest)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((FileDownloadCommand, self.src, self.dest))


class RsyncCommand(Command):
    """pyinfra 3.10's rsync step (``files.rsync``): the host's connector runs the local rsync."""

    __slots__ = ("dest", "flags", "src")

    def __init__(self, src: str, dest: str, flags: Iterable[str]) -> None:
        self.src = src
        self.dest = dest
        self.flags = list(flags)

    def masked(self) -> str:
        """How the step would be shown."""
        return f"rsync {' '.join(self.flags)} {self.src} {self.dest}"

    def __repr__(self) -> str:
        return f"RsyncCommand({self.src}, {self.dest}, {self.flags!r})"


def transfer_shown(verb: str, path: str, content: bytes) -> str:
    """How the log shows a file sent or fetched: ``upload /etc/motd (12 bytes, sha256 ab12…)``."""
    digest = hashlib.sha256(content).hexdigest()
    return f"{verb} {path} ({len(content)} bytes, sha256 {digest})"


def make_command(value: Any) -> Command:
    """The command an operation yielded: a plain string becomes a :class:`StringCommand`.

    Raises:
        TypeError: the value is not a command.
    """
    if isinstance(value, Command):
        return value
    if isinstance(value, HiddenValue):
        # A whole command given as a secret runs as itself and is shown masked.
        return StringCommand(value.strip() if isinstance(value, Secret) else value)
    if isinstance(value, str):
        return StringCommand(value.strip())
    raise TypeError(f"{value!r} is not a command (yield a string or a command object)")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
