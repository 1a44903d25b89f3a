"""Helpers for writing your own operations and facts: pyinfra 3.10's ``pyinfra.api.util`` ones.

An operation that takes a local file as a path or an open file reads it with
:func:`get_file_io`; a fact parsing command output turns numbers into ints
with :func:`try_int`; code that names where it was called from (a warning
about a deploy's line) asks :func:`get_caller_frameinfo`; an error shown in
one line is :func:`format_exception`'s. Plain functions: no State, no I/O but
the file asked for.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO, StringIO
from typing import IO, Any

__all__ = ["format_exception", "get_caller_frameinfo", "get_file_io", "try_int"]


def try_int(value: Any) -> Any:
    """``int(value)``, or ``value`` itself when it is not a number (``"hello"``, None)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def format_exception(error: BaseException) -> str:
    """The exception in one line, as pyinfra shows it: ``Exception('I am a message', 1)``."""
    return f"{type(error).__name__}{error.args}"


def get_caller_frameinfo(frame_offset: int = 0) -> inspect.Traceback:
    """Where the function calling this one was called from (file, line, function...).

    Args:
        frame_offset: How many more frames to go up: 1 for the caller's caller.
    """
    # Frame 0 is this function, 1 the function asking, 2 the code that called it.
    # sys._getframe reads one frame; inspect.stack() would read every source file.
    return inspect.getframeinfo(sys._getframe(2 + frame_offset))


@contextmanager
def get_file_io(
    filename_or_io: str | os.PathLike[str] | IO[Any], mode: str = "rb"
) -> Iterator[IO[Any]]:
    """The file to read, from its path or an open file, rewound to its start.

    A path is opened in ``mode`` and closed after the block; an open file is
    left open. A ``StringIO`` read in ``"rb"`` gives its text encoded (UTF-8), a
    ``BytesIO`` read in ``"r"`` its bytes decoded.

    Raises:
        TypeError: ``filename_or_io`` is neither a path nor readable.
    """
    if isinstance(filename_or_io, (str, os.PathLike)):
        with open(filename_or_io, mode) as file:
            yield file
        return
    if not hasattr(filename_or_io, "read"):
        raise TypeError(f"Invalid filename or IO object: {filename_or_io}")
    file_io: IO[Any] = filename_or_io
    if isinstance(file_io, StringIO) and mode == "rb":
        file_io = BytesIO(file_io.getvalue().encode())
    elif isinstance(file_io, BytesIO) and mode == "r":
        file_io = StringIO(file_io.getvalue().decode())
    file_io.seek(0)
    yield file_io
