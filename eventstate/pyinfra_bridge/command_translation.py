"""pyinfra's commands as eventstate's: what a pyinfra operation yields, made ours.

Strings and ``StringCommand`` parts keep their text exactly; a pyinfra
``HiddenValue`` or ``MaskString`` becomes an eventstate :class:`HiddenValue`
with the same mask (``*MASKED*`` unless the value says otherwise), so the
command runs with the value and is shown and recorded as pyinfra shows it.
Uploads, downloads and Python steps become ours; anything else is an
:class:`UnsupportedPyinfraCommandError` naming the operation.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api import command as pyinfra_command
from pyinfra.api.hiddenvalue import HiddenValue as PyinfraHiddenValue

from eventstate.commands import (
    Command,
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    HiddenValue,
    QuoteString,
    StringCommand,
    make_command,
)
from eventstate.errors import UnsupportedPyinfraCommandError

__all__ = ["translate_command", "translate_part"]

#: How pyinfra 3.10 shows a ``MaskString`` part.
MASKED = "*MASKED*"


def translate_part(part: Any) -> Any:
    """One part of a pyinfra ``StringCommand`` as a part of ours."""
    if isinstance(part, pyinfra_command.QuoteString):
        return QuoteString(translate_part(part.obj))
    if isinstance(part, pyinfra_command.StringCommand):
        return _string_command(part)
    if isinstance(part, pyinfra_command.MaskString):
        return HiddenValue(str.__str__(part), MASKED)
    if isinstance(part, PyinfraHiddenValue):
        return HiddenValue(f"{part.unmask()}", part.masked_value)
    return part


def _string_command(command: Any) -> StringCommand:
    return StringCommand(*map(translate_part, command.bits), _separator=command.separator)


def translate_command(value: Any, op_name: str) -> Command:
    """What the pyinfra operation ``op_name`` yielded, as an eventstate command.

    Raises:
        UnsupportedPyinfraCommandError: a kind of command eventstate does not run
            (rsync), one that carries its own connector arguments, or not a command.
    """
    if isinstance(value, str):  # MaskString included: a whole command is its text
        return make_command(value)
    if not isinstance(value, pyinfra_command.PyinfraCommand):
        raise UnsupportedPyinfraCommandError(f"{op_name} yielded {value!r}, which is not a command")
    if value.connector_arguments:
        names = ", ".join(sorted(value.connector_arguments))
        raise UnsupportedPyinfraCommandError(
            f"{op_name} yielded a {type(value).__name__} with its own connector arguments "
            f"({names}): eventstate takes them from the operation's global arguments"
        )
    if isinstance(value, pyinfra_command.StringCommand):
        return _string_command(value)
    if isinstance(value, pyinfra_command.FunctionCommand):
        return FunctionCommand(value.function, value.args, value.kwargs)
    if isinstance(value, pyinfra_command.FileUploadCommand):
        upload = FileUploadCommand(value.src, value.dest)
        if hasattr(value.src, "seek"):
            # pyinfra reads a file object from its start: the op has read it already
            # (files.put hashes it), and another host may read it next. Read now.
            value.src.seek(0)
            _ = upload.content
        return upload
    if isinstance(value, pyinfra_command.FileDownloadCommand):
        if not isinstance(value.dest, str):
            raise UnsupportedPyinfraCommandError(
                f"{op_name} yielded a download into a file object: eventstate downloads to paths"
            )
        return FileDownloadCommand(value.src, value.dest)
    raise UnsupportedPyinfraCommandError(
        f"{op_name} yielded a {type(value).__name__}, which eventstate's connectors do not run"
    )
