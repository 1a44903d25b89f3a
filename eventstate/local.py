"""pyinfra 3.10's ``local.include``: run another deploy file inside the one being prepared.

``from eventstate import local`` then ``local.include("tasks/web.py")``, as with
pyinfra. The included file's operations are named under it
(``tasks/web.py | apt.packages``), ordered by their lines within the include's
line (so the same deploy gives the same op hashes every run), and ``data``
gives defaults read through ``host.data`` while it runs.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from eventstate.context import current
from eventstate.errors import DeployFileError
from eventstate.state import State

__all__ = ["include"]

# Each file compiled once per run (every host runs it), as pyinfra keeps its codes.
_compiled: weakref.WeakKeyDictionary[State, dict[str, Any]] = weakref.WeakKeyDictionary()


def _resolve(state: State, filename: str) -> str:
    # pyinfra's rule: relative to the directory the deploy runs from, except a
    # "./" path, which is relative to the file that includes it.
    path = Path(filename)
    if path.is_absolute():
        return str(path)
    if filename.startswith("./") and state.deploy_including:
        return str((Path(state.deploy_including[-1]).parent / path).resolve())
    return str((Path.cwd() / path).resolve())


def _code(state: State, filename: str) -> Any:
    codes = _compiled.setdefault(state, {})
    code = codes.get(filename)
    if code is None:
        try:
            source = Path(filename).read_text()
        except OSError as error:
            raise DeployFileError(f"cannot include {filename}: {error.strerror}") from None
        try:
            code = codes[filename] = compile(source, filename, "exec")
        except SyntaxError as error:
            raise DeployFileError(f"{filename}:{error.lineno}: syntax error: {error.msg}") from None
    return code


def include(filename: str | os.PathLike[str], data: dict[str, Any] | None = None) -> None:
    """Run the deploy file ``filename`` for the host being prepared.

    Args:
        filename: The file: relative to the directory ``eventstate deploy`` runs
            in, or, starting with ``./``, to the file that includes it.
        data: Defaults for ``host.data`` while the file runs.

    Raises:
        DeployFileError: outside a deploy file, or the file cannot be read or compiled.
    """
    state, host = current()
    if state.deploy_filename is None:
        raise DeployFileError("local.include works in a deploy file run by `eventstate deploy`")
    path = _resolve(state, os.fspath(filename))
    code = _code(state, path)
    # Named as pyinfra names it: relative to the working directory when inside it.
    try:
        shown = str(Path(path).relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = path
    state.deploy_files.add(path)
    state.deploy_including.append(path)
    try:
        # pyinfra's include starts afresh: no outer deploy's arguments apply inside it.
        with host.deploy(shown, None, data, in_deploy=False):
            exec(code, {"__file__": path, "__name__": "deploy"})
    finally:
        state.deploy_including.pop()
