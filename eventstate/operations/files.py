"""File operations: directories, files, lines in files, uploaded content."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shlex
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from eventstate.commands import (
    FileDownloadCommand,
    FileUploadCommand,
    HiddenValue,
    QuoteString,
    RsyncCommand,
    Secret,
    StringCommand,
)
from eventstate.context import current
from eventstate.facts.files import Directory, File, FileHasLine, FindInFile, Sha256File
from eventstate.operation import operation

__all__ = ["directory", "file", "get", "line", "put", "rsync"]


def _mode(mode: int | str | None) -> str | None:
    # 644, "644" and "0644" all mean the mode stat prints as "644".
    if mode is None:
        return None
    return str(mode).lstrip("0") or "0"


def _attributes(
    path: str, info: dict[str, Any] | None, mode: Any, user: str | None, group: str | None
) -> Iterator[str]:
    quoted = shlex.quote(path)
    wanted = _mode(mode)
    if wanted is not None and (info is None or info["mode"] != wanted):
        yield f"chmod {wanted} {quoted}"
    if user or group:
        owner = f"{user or ''}{':' + group if group else ''}"
        if info is None or (user and info["user"] != user) or (group and info["group"] != group):
            yield f"chown {shlex.quote(owner)} {quoted}"


@operation
def directory(
    path: str,
    present: bool = True,
    mode: int | str | None = None,
    user: str | None = None,
    group: str | None = None,
) -> Iterator[str]:
    """A directory exists (with its parents), or does not.

    Args:
        path: The directory.
        present: Whether it should exist.
        mode: Its permissions (``755``).
        user: Its owner.
        group: Its group.
    """
    _, host = current()
    info = host.get_fact(Directory, path)
    quoted = shlex.quote(path)
    if info is False:
        raise ValueError(f"{path} exists and is not a directory")
    if not present:
        if info:
            yield f"rm -rf {quoted}"
        return
    if info is None:
        yield f"mkdir -p {quoted}"
    yield from _attributes(path, info, mode, user, group)


@operation
def file(
    path: str,
    present: bool = True,
    touch: bool = False,
    mode: int | str | None = None,
    user: str | None = None,
    group: str | None = None,
    create_remote_dir: bool = True,
) -> Iterator[str]:
    """A regular file exists, or does not.

    Args:
        path: The file.
        present: Whether it should exist.
        touch: Update its timestamps even when it exists (always a change).
        mode: Its permissions (``644``).
        user: Its owner.
        group: Its group.
        create_remote_dir: When the file is created, create its directory first if it
            is missing, owned by ``user`` and ``group`` but not given ``mode`` (as pyinfra).

    Raises:
        ValueError: ``path``, or the directory it must be created in, is something else.
    """
    _, host = current()
    info = host.get_fact(File, path)
    quoted = shlex.quote(path)
    if info is False:
        raise ValueError(f"{path} exists and is not a regular file")
    if not present:
        if info:
            yield f"rm -f {quoted}"
        return
    parent = posixpath.dirname(path)
    if info is None and create_remote_dir and parent:
        parent_info = host.get_fact(Directory, parent)
        if parent_info is False:
            raise ValueError(f"{parent} exists and is not a directory")
        if parent_info is None:
            yield f"mkdir -p {shlex.quote(parent)}"
            yield from _attributes(parent, None, None, user, group)
    if info is None or touch:
        yield f"touch {quoted}"
    yield from _attributes(path, info, mode, user, group)


@operation
def line(path: str, line: str | HiddenValue, present: bool = True) -> Iterator[str | StringCommand]:
    """A line is in a file (appended, creating the file if need be), or is not.

    Args:
        path: The file.
        line: The whole line, matched exactly; a :class:`~eventstate.Secret` is
            written as itself and shown (and asked about) masked.
        present: Whether the line should be there.
    """
    _, host = current()
    if isinstance(line, HiddenValue):
        yield from _secret_line(host, path, line, present)
        return
    pattern = f"^{re.escape(line)}$"
    matches = host.get_fact(FindInFile, path, pattern)
    quoted = shlex.quote(path)
    if present and not matches:
        # A last line with no newline would swallow ours (and never match again).
        yield (
            f'if [ -s {quoted} ] && [ -n "$(tail -c 1 {quoted})" ]; then echo >> {quoted}; fi; '
            f"printf '%s\\n' {shlex.quote(line)} >> {quoted}"
        )
    elif not present and matches:
        # Delete exact matches: keep every other line, then replace the file.
        awk = shlex.quote(f"$0 != {_awk_string(line)}")
        yield f"awk {awk} {quoted} > {quoted}.eventstate && cat {quoted}.eventstate > {quoted}"
        yield f"rm -f {quoted}.eventstate"


def _secret_line(host: Any, path: str, line: HiddenValue, present: bool) -> Iterator[StringCommand]:
    # The same edits, with the line one quoted secret part: the host gets it, the log
    # and the terminal see it masked, and the fact asked answers yes or no.
    has = host.get_fact(FileHasLine, path, line)
    quoted = shlex.quote(path)
    if present and not has:
        yield StringCommand(
            f'if [ -s {quoted} ] && [ -n "$(tail -c 1 {quoted})" ]; then echo >> {quoted}; fi;'
            " printf '%s\\n'",
            QuoteString(line),
            f">> {quoted}",
        )
    elif not present and has:
        program = Secret(f"$0 != {_awk_string(line.unmask())}")
        yield StringCommand(
            "awk",
            QuoteString(program),
            f"{quoted} > {quoted}.eventstate && cat {quoted}.eventstate > {quoted}",
        )
        yield StringCommand(f"rm -f {quoted}.eventstate")


def _awk_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Content read from streams that cannot be rewound, by stream: the op's body
# runs at prepare and again at execute, and a pipe can be read only once.
_streamed: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def _read(src: str | Path | IO[Any]) -> bytes:
    if isinstance(src, (str, Path)):
        return Path(src).read_bytes()
    if src in _streamed:
        return _streamed[src]
    seekable = src.seekable()
    if seekable:
        src.seek(0)
    data = src.read()
    content = data.encode() if isinstance(data, str) else bytes(data)
    if not seekable:
        _streamed[src] = content
    return content


@operation
def put(
    src: str | Path | IO[Any],
    dest: str,
    mode: int | str | None = None,
    user: str | None = None,
    group: str | None = None,
    create_remote_dir: bool = True,
) -> Iterator[Any]:
    """Upload a local file (or file-like object) to ``dest``; only if the content differs.

    Args:
        src: A local path, or an open file / ``StringIO`` / ``BytesIO``.
        dest: The path on the host.
        mode: Its permissions.
        user: Its owner.
        group: Its group.
        create_remote_dir: Create ``dest``'s directory when it is missing (as pyinfra).
    """
    _, host = current()
    content = _read(src)
    parent = posixpath.dirname(dest)
    if create_remote_dir and parent and not host.get_fact(Directory, parent):
        yield f"mkdir -p {shlex.quote(parent)}"
    remote_hash = host.get_fact(Sha256File, dest)
    if remote_hash != hashlib.sha256(content).hexdigest():
        # As pyinfra: a path is sent by its path; a stream, by the bytes read from it
        # (a pipe cannot be read again).
        yield FileUploadCommand(src if isinstance(src, (str, Path)) else content, dest)
    if mode is not None or user or group:
        info = host.get_fact(File, dest)
        yield from _attributes(dest, info or None, mode, user, group)


@operation
def get(
    src: str,
    dest: str,
    add_deploy_dir: bool = True,
    create_local_dir: bool = False,
    force: bool = False,
) -> Iterator[Any]:
    """Download the host's file ``src`` to ``dest`` here; only if the content differs.

    Recorded with the file's size and SHA-256, never its content.

    Args:
        src: The path on the host.
        dest: The local path; a relative one is under the deploy file's directory
            (with ``add_deploy_dir``), as pyinfra.
        add_deploy_dir: Resolve a relative ``dest`` against the deploy's directory.
        create_local_dir: Create ``dest``'s directory when it is missing.
        force: Download even when the local file has the same content.

    A file the host's fact does not find is downloaded all the same (pyinfra's
    "blind" download): if it is not there, the download fails when it runs, as
    it does when ``dest``'s directory is missing.
    """
    state, host = current()
    if add_deploy_dir and state.deploy_directory and not os.path.isabs(dest):
        dest = os.path.join(state.deploy_directory, dest)
    if create_local_dir:
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    remote_hash = host.get_fact(Sha256File, src)
    # As pyinfra: a file the fact does not see (unreadable to the fact's user, made
    # by an earlier op) is downloaded blind; the download says whether it is there.
    if (
        force
        or remote_hash is None
        or not os.path.isfile(dest)
        or _local_sha256(dest) != remote_hash
    ):
        yield FileDownloadCommand(src, dest)


@operation
def rsync(src: str, dest: str, flags: list[str] | None = None) -> Iterator[Any]:
    """Sync the local ``src`` to ``dest`` on the host with the local ``rsync`` (pyinfra's).

    Runs every time (rsync itself skips what is the same). Over SSH the
    command line is pyinfra 3.10's, through the host's master connection;
    ``@local`` runs ``rsync FLAGS SRC DEST`` here; other connectors cannot.
    Only ``_sudo`` / ``_sudo_user`` apply over SSH (the remote rsync runs under sudo).

    Args:
        src: The local path (a trailing ``/`` syncs the directory's content, as rsync).
        dest: The path on the host.
        flags: rsync's flags, shell words as written (default ``-ax --delete``).

    Raises:
        OperationError: the host's connector cannot rsync, or rsync is not installed here.
    """
    state, host = current()
    state.connections.connector(host).check_can_rsync()
    yield RsyncCommand(src, dest, ["-ax", "--delete"] if flags is None else flags)


def _local_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
