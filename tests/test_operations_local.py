"""Built-in operations run for real: ``@local`` deploys against ``tmp_path``, ``@sim`` for the rest.

Each test checks four things: the effect on disk, the State's meta and
results, the recorded events (fact commands at prepare, op commands between
their op's start and finish, outcomes), and -- for the idempotent operations
-- that running the same deploy again changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import re
import shlex
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstate import (
    Config,
    Host,
    HostOperationFinished,
    HostsFailed,
    Inventory,
    NoHostsRemainingError,
    OperationAdded,
    OperationError,
    OpOutcome,
    State,
)
from eventstate.connect import connect_all, disconnect_all
from eventstate.connectors import base as connectors_base
from eventstate.connectors import local as local_connector
from eventstate.events import (
    CommandExecuted,
    Event,
    ExecutionStarted,
    with_command_events,
    with_host_events,
)
from eventstate.execute import run_ops
from eventstate.operation import OperationResult, add_op
from eventstate.operations import apt, files, server
from eventstate.projections.host_meta import HostMeta
from eventstate.projections.host_results import HostResults
from eventstate.replay import read_events

ABSENT = "__eventstate_absent__"  # what the file facts print for a missing path

Call = tuple[Callable[..., OperationResult], tuple[Any, ...], dict[str, Any]]


def call(op: Callable[..., OperationResult], *args: Any, **kwargs: Any) -> Call:
    return op, args, kwargs


@dataclass
class Run:
    """One finished deploy on one host, with its events decoded from the log."""

    state: State
    host: Host
    results: list[OperationResult]
    events: list[Event]
    error: Exception | None = None
    by_hash: dict[str, HostOperationFinished] = field(default_factory=dict)

    @property
    def meta(self) -> HostMeta:
        return self.state.meta[self.host]

    @property
    def outcome(self) -> HostResults:
        return self.state.results[self.host]

    def fact_commands(self) -> list[CommandExecuted]:
        return [e for e in self.events if isinstance(e, CommandExecuted) and e.fact is not None]

    def op_commands(self, index: int | None = None) -> list[CommandExecuted]:
        wanted = None if index is None else self.results[index].op_hash
        return [
            e
            for e in self.events
            if isinstance(e, CommandExecuted)
            and e.op_hash is not None
            and (wanted is None or e.op_hash == wanted)
        ]

    def commands(self, index: int | None = None) -> list[str]:
        return [e.command for e in self.op_commands(index)]

    def finished(self, index: int) -> HostOperationFinished | None:
        return self.by_hash.get(self.results[index].op_hash)

    def assert_no_change(self) -> None:
        """A second run: every op prepared as no change, no op command ran, all succeeded."""
        assert self.error is None
        assert self.meta.ops == len(self.results)
        assert self.meta.ops_no_change == self.meta.ops
        assert self.meta.ops_change == 0
        assert self.op_commands() == []
        assert self.outcome.success_ops == len(self.results)
        for index, result in enumerate(self.results):
            assert result.will_change is False
            assert result.changed is False
            finished = self.finished(index)
            assert finished is not None
            assert finished.outcome is OpOutcome.SUCCESS
            assert finished.commands_executed == 0


def check_log(run: Run) -> None:
    """Invariants every deploy's log must satisfy, whatever the ops did."""
    executing = False
    open_ops: set[str] = set()
    successes: dict[str, int] = {}
    failures: dict[str, int] = {}
    for event in run.events:
        if isinstance(event, ExecutionStarted):
            executing = True
        elif isinstance(event, HostOperationFinished):
            open_ops.discard(event.op_hash)
            run.by_hash[event.op_hash] = event
        elif isinstance(event, CommandExecuted):
            # A command belongs to an op or to a fact, never both, never neither.
            assert (event.op_hash is None) != (event.fact is None), event
            assert event.host == run.host.name
            if event.fact is not None:
                # Facts are gathered at prepare, up to the op's first command; one the body
                # asks for after that (files.put's File, after the upload) is gathered while
                # the op executes -- never between ops.
                assert not executing or open_ops, f"fact gathered between ops: {event}"
            else:
                # An op is open from its first command until its outcome is recorded.
                assert event.op_hash not in run.by_hash, f"op command after its outcome: {event}"
                open_ops.add(event.op_hash)
                counts = successes if event.success else failures
                counts[event.op_hash] = counts.get(event.op_hash, 0) + 1
    for op_hash, finished in run.by_hash.items():
        assert finished.retry_count == 0
        assert finished.commands_executed == successes.get(op_hash, 0)
        failed = failures.get(op_hash, 0) > 0
        assert (finished.outcome is OpOutcome.SUCCESS) == (not failed)
    counted_change = 0
    for result in run.results:
        finished = run.by_hash.get(result.op_hash)
        if finished is None:
            assert result.success is None  # never executed (its host had failed)
        else:
            assert result.success == (finished.outcome is OpOutcome.SUCCESS)
            assert result.changed == (finished.commands_executed > 0)
        counted_change += bool(result.will_change)
    assert run.meta.ops == len(run.results)
    assert run.meta.ops_change == counted_change


def deploy(*calls: Call, host: str = "@local", data: dict[str, Any] | None = None) -> Run:
    """Prepare ``calls`` on one host, execute them, disconnect, finish; decode the log."""
    inventory = Inventory(([(host, data or {})], {}))
    state = State(inventory, Config())
    target = inventory.get_host(host)
    connect_all(state)
    results = [
        add_op(state, op, *args, host=target, **kwargs)[target] for op, args, kwargs in calls
    ]
    error: Exception | None = None
    try:
        run_ops(state)
    except NoHostsRemainingError as exc:
        error = exc
    disconnect_all(state)
    state.finish()
    run = Run(
        state,
        target,
        results,
        list(with_host_events(with_command_events(read_events(state.log, state.run_id)))),
        error,
    )
    check_log(run)
    return run


def q(path: Path | str) -> str:
    return shlex.quote(str(path))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def fact_of(run: Run, name: str) -> CommandExecuted:
    (found,) = [e for e in run.fact_commands() if e.fact == name]
    return found


# files.directory


def test_directory_is_created_with_parents_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b c"
    run = deploy(call(files.directory, str(path), mode=750))

    assert path.is_dir()
    assert mode_of(path) == 0o750
    assert (run.meta.ops, run.meta.ops_change, run.meta.ops_no_change) == (1, 1, 0)
    assert run.outcome.success_ops == 1
    assert run.results[0].will_change is True
    fact = fact_of(run, f"files.Directory({path})")
    assert fact.op_hash is None
    assert fact.success
    assert fact.stdout == f"{ABSENT}\n"
    assert run.commands(0) == [f"mkdir -p {q(path)}", f"chmod 750 {q(path)}"]
    finished = run.finished(0)
    assert finished is not None
    assert finished.outcome is OpOutcome.SUCCESS
    assert finished.commands_executed == 2

    again = deploy(call(files.directory, str(path), mode=750))
    again.assert_no_change()
    assert fact_of(again, f"files.Directory({path})").stdout.startswith("directory|750|")


def test_directory_mode_change_only_chmods(tmp_path: Path) -> None:
    path = tmp_path / "d"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    (path / "kept").write_text("x")

    run = deploy(call(files.directory, str(path), mode="0755"))
    assert mode_of(path) == 0o755
    assert (path / "kept").read_text() == "x"
    assert run.commands(0) == [f"chmod 755 {q(path)}"]
    assert run.meta.ops_change == 1

    deploy(call(files.directory, str(path), mode=755)).assert_no_change()


def test_directory_present_false_removes_it_and_its_content(tmp_path: Path) -> None:
    path = tmp_path / "gone"
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "file").write_text("x")

    run = deploy(call(files.directory, str(path), present=False))
    assert not path.exists()
    assert run.commands(0) == [f"rm -rf {q(path)}"]
    assert run.meta.ops_change == 1
    assert run.outcome.success_ops == 1

    deploy(call(files.directory, str(path), present=False)).assert_no_change()
    assert not path.exists()


def test_directory_on_a_regular_file_raises_value_error_at_prepare(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("content")
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)

    with pytest.raises(ValueError, match="exists and is not a directory"):
        add_op(state, files.directory, str(path))

    state.flush()
    host = inventory.get_host("@local")
    assert path.read_text() == "content"
    assert state.meta[host].ops == 0  # never added to the host
    facts = [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert [e.fact for e in facts] == [f"files.Directory({path})"]
    assert facts[0].stdout.startswith("regular file|")


def test_an_op_failing_at_prepare_does_not_leak_into_the_next_ops_meta(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("content")
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    with pytest.raises(ValueError):
        add_op(state, files.directory, str(tmp_path / "plain"))
    (result,) = add_op(state, files.file, str(tmp_path / "new")).values()
    assert list(state.get_op_meta(result.op_hash).names) == ["files.file"]


# files.file


def test_file_is_created_with_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.txt"
    run = deploy(call(files.file, str(path), mode="640"))

    assert path.is_file()
    assert path.stat().st_size == 0
    assert mode_of(path) == 0o640
    assert run.commands(0) == [f"touch {q(path)}", f"chmod 640 {q(path)}"]
    assert fact_of(run, f"files.File({path})").stdout == f"{ABSENT}\n"
    assert (run.meta.ops_change, run.outcome.success_ops) == (1, 1)

    again = deploy(call(files.file, str(path), mode=640))
    again.assert_no_change()
    assert fact_of(again, f"files.File({path})").stdout.startswith("regular empty file|640|")


def test_file_mode_change_keeps_content(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("keep me\n")
    os.chmod(path, 0o600)

    run = deploy(call(files.file, str(path), mode=644))
    assert run.commands(0) == [f"chmod 644 {q(path)}"]
    assert mode_of(path) == 0o644
    assert path.read_text() == "keep me\n"

    deploy(call(files.file, str(path), mode=644)).assert_no_change()


def test_file_touch_is_always_a_change(tmp_path: Path) -> None:
    path = tmp_path / "stamp"
    path.write_text("x")
    for _ in range(2):
        os.utime(path, (1_000_000, 1_000_000))
        run = deploy(call(files.file, str(path), touch=True))
        assert run.meta.ops_change == 1
        assert run.commands(0) == [f"touch {q(path)}"]
        assert path.stat().st_mtime > 1_000_000
        assert path.read_text() == "x"


def test_file_present_false_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.write_text("x")

    run = deploy(call(files.file, str(path), present=False))
    assert not path.exists()
    assert run.commands(0) == [f"rm -f {q(path)}"]
    assert run.meta.ops_change == 1

    deploy(call(files.file, str(path), present=False)).assert_no_change()


def test_file_creates_its_missing_directory_unless_told_not_to(tmp_path: Path) -> None:
    # pyinfra 3.10's files.file: create_remote_dir=True by default.
    path = tmp_path / "a" / "b c" / "f"
    run = deploy(call(files.file, str(path), mode=600))
    assert path.is_file() and mode_of(path) == 0o600
    assert mode_of(path.parent) != 0o600  # the mode is the file's only
    assert run.commands(0) == [
        f"mkdir -p {q(path.parent)}",
        f"touch {q(path)}",
        f"chmod 600 {q(path)}",
    ]
    assert fact_of(run, f"files.Directory({path.parent})").stdout == f"{ABSENT}\n"
    deploy(call(files.file, str(path), mode=600)).assert_no_change()

    # An existing directory is left alone.
    sibling = path.parent / "g"
    assert deploy(call(files.file, str(sibling))).commands(0) == [f"touch {q(sibling)}"]

    # A directory it creates gets the file's owner (pyinfra's _create_remote_dir).
    me = pwd.getpwuid(os.getuid()).pw_name
    owned = tmp_path / "owned" / "f"
    assert deploy(call(files.file, str(owned), user=me)).commands(0) == [
        f"mkdir -p {q(owned.parent)}",
        f"chown {me} {q(owned.parent)}",
        f"touch {q(owned)}",
        f"chown {me} {q(owned)}",
    ]

    elsewhere = tmp_path / "missing" / "f"
    failed = deploy(call(files.file, str(elsewhere), create_remote_dir=False))
    assert failed.commands(0) == [f"touch {q(elsewhere)}"]
    assert not elsewhere.parent.exists()
    finished = failed.finished(0)
    assert finished is not None and finished.outcome is OpOutcome.ERROR


def test_file_in_a_path_that_is_not_a_directory_raises_value_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    with pytest.raises(ValueError, match="plain exists and is not a directory"):
        add_op(state, files.file, str(tmp_path / "plain" / "f"))


def test_file_on_a_directory_raises_value_error(tmp_path: Path) -> None:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    with pytest.raises(ValueError, match="not a regular file"):
        add_op(state, files.file, str(tmp_path))
    assert tmp_path.is_dir()


# files.line

TRICKY_LINES = [
    # (line, near misses an unescaped regex or a sloppy match would take for it)
    ("a.b*[c]", ["aXbbbc", "a.b*[c] ", " a.b*[c]", "a.bb[c]"]),
    ("say \"hi\" to 'them'", ["say hi to them", "say \"hi\" to 'them'!"]),
    ("back\\slash \\n \\t end", ["back\\\\slash \\n \\t end", "backslash n t end"]),
    ("x  y (z)+ ? ^$ {1} | ~ # & -", ["x  y z ? ^$ {1} | ~ # & -", "x y (z)+ ? ^$ {1} | ~ # & -"]),
    ("$(echo injected) `echo x` %s %d", ["injected x %s %d"]),
    ("  padded  ", ["padded", "  padded"]),
    ("-n", ["-nn", "n"]),
]


def test_line_is_appended_creating_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    run = deploy(call(files.line, str(path), "key=1"))

    assert path.read_text() == "key=1\n"
    (command,) = run.commands(0)
    # A guard first adds a newline when the file's last line has none; then the line.
    assert command.endswith(f"; printf '%s\\n' key=1 >> {q(path)}")
    assert command.startswith(f"if [ -s {q(path)} ]")
    (fact,) = run.fact_commands()
    assert fact.fact is not None
    assert fact.fact.startswith("files.FindInFile(")
    assert fact.stdout == f"{ABSENT}\n"
    assert run.meta.ops_change == 1

    again = deploy(call(files.line, str(path), "key=1"))
    again.assert_no_change()
    assert again.fact_commands()[0].stdout == "key=1\n"
    assert path.read_text() == "key=1\n"


def test_line_is_appended_once_after_existing_lines(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("first\nkey=10\n")
    deploy(call(files.line, str(path), "key=1"))
    assert path.read_text() == "first\nkey=10\nkey=1\n"
    deploy(call(files.line, str(path), "key=1")).assert_no_change()
    assert path.read_text() == "first\nkey=10\nkey=1\n"


@pytest.mark.parametrize(("line", "near_misses"), TRICKY_LINES)
def test_line_with_special_characters_is_matched_exactly(
    tmp_path: Path, line: str, near_misses: list[str]
) -> None:
    path = tmp_path / "it's a file"
    before = "".join(f"{miss}\n" for miss in near_misses)
    path.write_text(before)

    run = deploy(call(files.line, str(path), line))
    assert run.meta.ops_change == 1  # no near miss counted as the line
    assert path.read_text() == before + line + "\n"
    assert run.fact_commands()[0].stdout == ""  # grep matched none of them
    assert not (tmp_path / "injected").exists()

    again = deploy(call(files.line, str(path), line))
    again.assert_no_change()
    assert again.fact_commands()[0].stdout == line + "\n"
    assert path.read_text() == before + line + "\n"


@pytest.mark.parametrize(("line", "near_misses"), TRICKY_LINES)
def test_line_present_false_removes_only_exact_matches(
    tmp_path: Path, line: str, near_misses: list[str]
) -> None:
    path = tmp_path / "conf"
    path.write_text("\n".join([line, *near_misses, line, "other"]) + "\n")
    os.chmod(path, 0o604)

    run = deploy(call(files.line, str(path), line, present=False))
    assert path.read_text() == "\n".join([*near_misses, "other"]) + "\n"
    assert mode_of(path) == 0o604  # rewritten in place
    assert not (tmp_path / "conf.eventstate").exists()
    assert len(run.commands(0)) == 2
    assert run.commands(0)[1] == f"rm -f {q(path)}.eventstate"
    assert run.meta.ops_change == 1

    deploy(call(files.line, str(path), line, present=False)).assert_no_change()


def test_line_present_false_on_a_missing_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing"
    deploy(call(files.line, str(path), "x", present=False)).assert_no_change()
    assert not path.exists()


def test_line_appended_to_a_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("a")
    deploy(call(files.line, str(path), "b"))
    assert path.read_text().splitlines() == ["a", "b"]


_LINE_TEXT = st.text(
    alphabet=st.characters(
        exclude_categories=("Cs",),
        # str.splitlines() splits on these: a "line" holding one is not one line.
        exclude_characters="\x00\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=30,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=_LINE_TEXT)
def test_any_line_round_trips_through_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "prop"
    path.write_text("keep\n")
    deploy(call(files.line, str(path), line))
    assert path.read_text() == f"keep\n{line}\n"
    deploy(call(files.line, str(path), line)).assert_no_change()
    deploy(call(files.line, str(path), line, present=False))
    assert path.read_text() == "keep\n"
    path.unlink()


# files.get


def test_get_downloads_a_file_the_fact_misses_blind_and_fails_only_if_absent(
    tmp_path: Path,
) -> None:
    # As pyinfra: no refusal while preparing; the download itself says whether it is there.
    missing, dest = tmp_path / "missing.txt", tmp_path / "out" / "copy.txt"
    run = deploy(call(files.get, str(missing), str(dest), create_local_dir=True))
    assert run.results[0].will_change is True
    (command,) = run.op_commands(0)
    assert not command.success and not dest.exists()
    assert run.outcome.error_ops == 1


def test_put_of_a_path_yields_pyinfras_upload_command(tmp_path: Path) -> None:
    from eventstate.commands import FileUploadCommand

    local = tmp_path / "local.txt"
    local.write_text("x\n")
    run = deploy(call(files.put, str(local), str(tmp_path / "remote.txt")))
    assert run.state.ops[run.host][run.results[0].op_hash].operation_meta._commands == [
        FileUploadCommand(str(local), str(tmp_path / "remote.txt"))
    ]
    assert FileUploadCommand(b"ab", "/d") != FileUploadCommand(b"cd", "/d")


# files.put


@pytest.mark.parametrize("kind", ["str", "Path", "StringIO", "BytesIO"])
def test_put_uploads_once(tmp_path: Path, kind: str) -> None:
    local = tmp_path / "local.txt"
    local.write_text("héllo\nworld\n")
    src: Any = {
        "str": str(local),
        "Path": local,
        "StringIO": io.StringIO("héllo\nworld\n"),
        "BytesIO": io.BytesIO("héllo\nworld\n".encode()),
    }[kind]
    dest = tmp_path / "remote.txt"
    size = len("héllo\nworld\n".encode())

    run = deploy(call(files.put, src, str(dest)))
    assert dest.read_text() == "héllo\nworld\n"
    digest = hashlib.sha256("héllo\nworld\n".encode()).hexdigest()
    # Recorded by size and hash, never by content.
    assert run.commands(0) == [f"upload {dest} ({size} bytes, sha256 {digest})"]
    assert fact_of(run, f"files.Sha256File({dest})").stdout == ""
    assert run.meta.ops_change == 1

    # The same object again (read at prepare and at execute): still its whole content.
    again = deploy(call(files.put, src, str(dest)))
    again.assert_no_change()
    assert fact_of(again, f"files.Sha256File({dest})").stdout.startswith(digest + " ")


def test_put_stages_the_upload_in_the_temp_dir_it_is_given(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    dest = tmp_path / "remote.txt"
    run = deploy(call(files.put, io.BytesIO(b"staged"), str(dest), _temp_dir=str(staging)))
    assert dest.read_bytes() == b"staged" and run.meta.ops_change == 1
    assert list(staging.iterdir()) == []  # moved into place, nothing left behind
    # The directory really is where it is written: one that does not exist fails the op.
    missing = deploy(
        call(files.put, io.BytesIO(b"other"), str(dest), _temp_dir=str(tmp_path / "none"))
    )
    assert missing.error is not None and dest.read_bytes() == b"staged"


def test_put_content_hash_decides_the_change(tmp_path: Path) -> None:
    dest = tmp_path / "remote"
    dest.write_bytes(b"AAAA")
    os.utime(dest, (1_000_000, 1_000_000))

    deploy(call(files.put, io.BytesIO(b"AAAA"), str(dest))).assert_no_change()
    assert dest.stat().st_mtime == 1_000_000  # not rewritten

    run = deploy(call(files.put, io.BytesIO(b"BBBB"), str(dest)))  # same size, other content
    assert run.meta.ops_change == 1
    digest = hashlib.sha256(b"BBBB").hexdigest()
    assert run.commands(0) == [f"upload {dest} (4 bytes, sha256 {digest})"]
    assert dest.read_bytes() == b"BBBB"


def test_put_with_mode(tmp_path: Path) -> None:
    dest = tmp_path / "secret"
    run = deploy(call(files.put, io.StringIO("s3cret\n"), str(dest), mode=600))
    digest = hashlib.sha256(b"s3cret\n").hexdigest()
    assert run.commands(0) == [
        f"upload {dest} (7 bytes, sha256 {digest})",
        f"chmod 600 {q(dest)}",
    ]
    assert mode_of(dest) == 0o600
    assert dest.read_text() == "s3cret\n"

    deploy(call(files.put, io.StringIO("s3cret\n"), str(dest), mode="0600")).assert_no_change()

    run = deploy(call(files.put, io.StringIO("s3cret\n"), str(dest), mode=640))
    assert run.commands(0) == [f"chmod 640 {q(dest)}"]  # same content: only the mode
    assert mode_of(dest) == 0o640


def test_put_to_a_dest_with_a_backslash_is_idempotent(tmp_path: Path) -> None:
    dest = tmp_path / "back\\slash"
    deploy(call(files.put, io.BytesIO(b"data"), str(dest)))
    deploy(call(files.put, io.BytesIO(b"data"), str(dest))).assert_no_change()


def test_put_from_a_non_seekable_stream_uploads_its_content(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"hello\n")
    os.close(write_fd)
    dest = tmp_path / "piped"
    with os.fdopen(read_fd, "rb") as src:
        deploy(call(files.put, src, str(dest)))
    assert dest.read_bytes() == b"hello\n"


# files.rsync


def test_rsync_on_local_runs_rsync_here_every_time(tmp_path: Path) -> None:
    source, dest = tmp_path / "src", tmp_path / "dest"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a\n")
    run = deploy(call(files.rsync, f"{source}/", str(dest), flags=["-a"]))
    assert (dest / "sub" / "a.txt").read_text() == "a\n"
    assert run.commands() == [f"rsync -a {source}/ {dest}"]
    assert run.results[0].will_change is True  # not idempotent: rsync decides, as pyinfra
    assert deploy(call(files.rsync, f"{source}/", str(dest))).commands() == [
        f"rsync -ax --delete {source}/ {dest}"
    ]


def test_rsync_is_refused_at_prepare_where_the_connector_cannot(tmp_path: Path) -> None:
    state = State(Inventory((["@sim/a"], {})), Config())
    connect_all(state)
    with pytest.raises(OperationError, match=r"^the sim connector cannot rsync \(use files.put\)$"):
        add_op(state, files.rsync, str(tmp_path), "/srv")
    state.finish()


def test_rsync_without_rsync_installed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connectors_base, "which", lambda name: None)
    state = State(Inventory((["@local"], {})), Config())
    connect_all(state)
    with pytest.raises(OperationError, match="The `rsync` binary is not available"):
        add_op(state, files.rsync, str(tmp_path), str(tmp_path / "d"))
    state.finish()


# server.shell


def test_shell_string_always_changes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for expected in ("hi\n", "hi\nhi\n"):
        run = deploy(call(server.shell, f"echo hi >> {out}; echo done"))
        assert out.read_text() == expected
        assert run.meta.ops_change == 1
        assert run.fact_commands() == []
        (command,) = run.op_commands(0)
        assert command.command == f"echo hi >> {out}; echo done"
        assert (command.stdout, command.exit_code, command.success) == ("done\n", 0, True)


def test_shell_list_runs_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = deploy(call(server.shell, [f"echo one >> {out}", f"echo two >> {out}"]))
    assert out.read_text() == "one\ntwo\n"
    assert run.commands(0) == [f"echo one >> {out}", f"echo two >> {out}"]
    finished = run.finished(0)
    assert finished is not None
    assert finished.commands_executed == 2


def test_failing_shell_command_fails_the_host(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = deploy(
        call(
            server.shell, [f"echo before >> {out}", "echo oops >&2; exit 3", f"echo after >> {out}"]
        ),
        call(server.shell, f"touch {tmp_path / 'next'}"),
    )
    assert isinstance(run.error, NoHostsRemainingError)
    assert out.read_text() == "before\n"  # the command after the failure never ran
    assert not (tmp_path / "next").exists()  # nor did the next op

    first, failing = run.op_commands(0)
    assert first.success
    assert (failing.success, failing.exit_code, failing.stderr) == (False, 3, "oops\n")
    finished = run.finished(0)
    assert finished is not None
    assert finished.outcome is OpOutcome.ERROR
    assert finished.commands_executed == 1
    assert finished.partial
    assert run.finished(1) is None
    assert run.op_commands(1) == []
    assert run.results[0].success is False
    assert (run.outcome.ops, run.outcome.error_ops, run.outcome.partial_ops) == (0, 1, 1)
    assert [e.hosts for e in run.events if isinstance(e, HostsFailed)] == [("@local",)]
    assert run.host in run.state.failed_hosts


def test_failing_shell_command_with_ignore_errors(tmp_path: Path) -> None:
    run = deploy(
        call(server.shell, "exit 2", _ignore_errors=True),
        call(server.shell, f"touch {tmp_path / 'next'}"),
    )
    assert run.error is None
    assert (tmp_path / "next").exists()
    first = run.finished(0)
    assert first is not None
    assert first.outcome is OpOutcome.IGNORED_ERROR
    assert (run.outcome.ops, run.outcome.ignored_error_ops, run.outcome.success_ops) == (2, 1, 1)
    assert run.host not in run.state.failed_hosts


# _sudo


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv of every process the local connector starts."""
    seen: list[list[str]] = []
    real = local_connector.run_process

    def spy(argv: Any, options: Any, stdin: bytes | None = None) -> Any:
        seen.append(list(argv))
        return real(argv, options, stdin=stdin)

    monkeypatch.setattr(local_connector, "run_process", spy)
    return seen


def test_sudo_wraps_fact_and_op_commands(tmp_path: Path, spawned: list[list[str]]) -> None:
    path = tmp_path / "as-root"
    # create_remote_dir=False: the one fact asked is File (tmp_path exists; its Directory
    # fact would be a second sudo command).
    run = deploy(
        call(files.file, str(path), create_remote_dir=False, _sudo=True),
        call(server.shell, "true"),
    )

    fact = fact_of(run, f"files.File({path})")
    recorded = [fact, *run.op_commands(0)]
    sudo_argvs = [argv for argv in spawned if argv[0] == "sudo"]
    # Each command of the sudo op, the fact included, ran as `sudo -H -n sh -c COMMAND`.
    assert [argv[:5] for argv in sudo_argvs] == [["sudo", "-H", "-n", "sh", "-c"]] * len(recorded)
    # The log shows the command as run: under sudo.
    assert [f"sudo {argv[5]}" for argv in sudo_argvs] == [e.command for e in recorded]

    if shutil.which("sudo") is None:
        # No sudo here: every wrapped command fails; the fact falls back to its default
        # (None: "absent"), so the op touches -- which fails the op and the host.
        assert not fact.success
        assert "cannot run sudo" in fact.stderr
        assert run.commands(0) == [f"sudo touch {q(path)}"]
        assert isinstance(run.error, NoHostsRemainingError)
        assert not path.exists()
        assert run.op_commands(1) == []  # the host failed before the next op
    else:
        ok = all(e.success for e in recorded)
        assert (run.error is None) == ok
        assert path.exists() == ok
    finished = run.finished(0)
    assert finished is not None
    assert (finished.outcome is OpOutcome.SUCCESS) == all(e.success for e in run.op_commands(0))


def test_without_sudo_nothing_is_wrapped(tmp_path: Path, spawned: list[list[str]]) -> None:
    deploy(call(files.file, str(tmp_path / "plain")))
    assert spawned
    assert all(argv[:2] == ["sh", "-c"] for argv in spawned)


def test_the_log_shows_that_an_op_ran_with_sudo(tmp_path: Path) -> None:
    run = deploy(call(files.file, str(tmp_path / "x"), _sudo=True))
    in_commands = any("sudo" in e.command for e in run.op_commands())
    in_meta = any(
        "_sudo" in e.global_arguments for e in run.events if isinstance(e, OperationAdded)
    )
    assert in_commands or in_meta


# server.service and apt.packages on simulated hosts


def sim(outputs: dict[str, str], *calls: Call) -> Run:
    return deploy(*calls, host="@sim/x", data={"sim_outputs": outputs})


@pytest.mark.parametrize(
    ("status", "kwargs", "expected"),
    [
        ("inactive\ninactive\n", {}, ["systemctl start nginx"]),
        ("active\nenabled\n", {}, []),
        ("active\nenabled\n", {"running": False}, ["systemctl stop nginx"]),
        ("inactive\ndisabled\n", {"running": False}, []),
        ("active\nenabled\n", {"restarted": True}, ["systemctl restart nginx"]),
        ("inactive\nenabled\n", {"restarted": True}, ["systemctl start nginx"]),
        ("inactive\ndisabled\n", {"running": False, "restarted": True}, []),
        (
            "inactive\ndisabled\n",
            {"enabled": True},
            ["systemctl start nginx", "systemctl enable nginx"],
        ),
        ("active\nenabled\n", {"enabled": False}, ["systemctl disable nginx"]),
        ("active\nstatic\n", {"enabled": None}, []),
        ("unknown\nunknown\n", {}, ["systemctl start nginx"]),
        ("", {"enabled": True}, ["systemctl start nginx", "systemctl enable nginx"]),
    ],
)
def test_service_commands(status: str, kwargs: dict[str, Any], expected: list[str]) -> None:
    run = sim({"systemctl is-active": status}, call(server.service, "nginx", **kwargs))
    (fact,) = run.fact_commands()
    assert fact.fact == "systemd.SystemdStatus(nginx)"
    assert "systemctl is-active nginx" in fact.command
    assert "systemctl is-enabled nginx" in fact.command
    assert fact.stdout == status
    assert run.commands(0) == expected
    assert run.meta.ops_change == (1 if expected else 0)
    assert run.outcome.success_ops == 1


def test_service_with_a_failing_status_fact_fails_the_host() -> None:
    # As pyinfra 3.10: no `systemctl start` planned on a status nobody could read.
    with pytest.raises(NoHostsRemainingError):
        deploy(
            call(server.service, "nginx"),
            host="@sim/x",
            data={"sim_fail_patterns": {"is-active": 1.0}},
        )


def test_service_name_is_quoted() -> None:
    run = sim({"is-active": "inactive\n"}, call(server.service, "my unit; rm -rf /"))
    assert run.commands(0) == ["systemctl start 'my unit; rm -rf /'"]


INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get -y install"
REMOVE = "DEBIAN_FRONTEND=noninteractive apt-get -y remove"
UPDATE = "DEBIAN_FRONTEND=noninteractive apt-get -y update"


@pytest.mark.parametrize(
    ("installed", "args", "kwargs", "expected"),
    [
        ("ii nginx 1.0\n", (["nginx", "curl"],), {}, [f"{INSTALL} curl"]),
        ("ii nginx 1.0\n", ("nginx",), {}, []),
        ("ii nginx 1.0\n", (["nginx", "curl"],), {"update": True}, [UPDATE, f"{INSTALL} curl"]),
        ("ii nginx 1.0\n", ("nginx",), {"update": True}, []),
        ("", (["a", "b"],), {}, [f"{INSTALL} a b"]),
        ("ii nginx 1.0\n", (["nginx", "curl"],), {"present": False}, [f"{REMOVE} nginx"]),
        ("ii nginx 1.0\n", ("curl",), {"present": False}, []),
        # Removed but configured ("rc") is not installed.
        ("rc curl 7.0\nii nginx 1.0\n", (["nginx", "curl"],), {}, [f"{INSTALL} curl"]),
        ("ii libc6:amd64 2.36\n", ("libc6",), {}, []),
    ],
)
def test_apt_packages_commands(
    installed: str, args: tuple[Any, ...], kwargs: dict[str, Any], expected: list[str]
) -> None:
    run = sim({"dpkg-query": installed}, call(apt.packages, *args, **kwargs))
    (fact,) = run.fact_commands()
    assert fact.fact == "deb.DebPackages()"
    assert fact.command.startswith("dpkg-query -W")
    assert run.commands(0) == expected
    assert run.meta.ops_change == (1 if expected else 0)
    assert run.outcome.success_ops == 1


def test_apt_packages_gathers_the_package_list_once() -> None:
    run = sim(
        {"dpkg-query": "ii nginx 1.0\n"},
        call(apt.packages, "nginx"),
        call(apt.packages, ["curl", "nginx"]),
        call(apt.packages, "vim", present=False),
        call(apt.update),
    )
    assert len(run.fact_commands()) == 1
    assert [run.commands(i) for i in range(4)] == [[], [f"{INSTALL} curl"], [], [UPDATE]]
    assert (run.meta.ops, run.meta.ops_change, run.meta.ops_no_change) == (4, 2, 2)


def test_apt_package_names_are_quoted() -> None:
    run = sim({}, call(apt.packages, ["ok", "bad name;reboot"]))
    assert run.commands(0) == [f"{INSTALL} ok 'bad name;reboot'"]


def test_the_whole_local_deploy_is_idempotent(tmp_path: Path) -> None:
    conf = tmp_path / "conf"

    def calls() -> list[Call]:
        return [
            call(files.directory, str(conf), mode=750),
            call(files.file, str(conf / "a"), mode=600),
            call(files.line, str(conf / "a"), "k = v.*"),
            call(files.put, io.BytesIO(b"\x00\xffbinary"), str(conf / "b"), mode=644),
            call(files.file, str(conf / "gone"), present=False),
        ]

    run = deploy(*calls())
    assert (run.meta.ops, run.meta.ops_change, run.meta.ops_no_change) == (5, 4, 1)
    assert run.outcome.success_ops == 5
    assert (conf / "a").read_text() == "k = v.*\n"
    assert (conf / "b").read_bytes() == b"\x00\xffbinary"
    assert re.fullmatch(r"0o7[0-7]{2}", oct(mode_of(conf)))
    deploy(*calls()).assert_no_change()


# python.call, the server.Command and server.Which facts, _timeout on a Python step


def test_python_call_as_pyinfra_calls_it(tmp_path: Path) -> None:
    from eventstate.context import current_host
    from eventstate.operations import python

    seen: list[Any] = []

    def plain(greeting: str, who: str = "") -> None:
        seen.append(("plain", greeting, who, current_host().name))

    def with_state(state: Any, host: Any, value: int) -> bool:
        seen.append(("state", value, host.name, state is not None))
        return value > 0

    run = deploy(
        call(python.call, plain, "hello", who="world"),
        call(python.call, with_state, 1),
        call(python.call, with_state, 0, _ignore_errors=True),
    )
    assert seen == [
        ("plain", "hello", "world", "@local"),
        ("state", 1, "@local", True),
        ("state", 0, "@local", True),
    ]
    assert run.meta.ops_change == 3  # not idempotent: always a change
    assert run.outcome.success_ops == 2 and run.outcome.ignored_error_ops == 1


def test_timeout_bounds_a_python_step() -> None:
    import gevent

    from eventstate.operations import python

    run = deploy(call(python.call, gevent.sleep, 5, _timeout=0.2))
    assert run.error is not None  # the only host failed: no hosts remaining
    (step,) = [e for e in run.events if isinstance(e, CommandExecuted) and e.op_hash]
    assert not step.success and step.stderr == "timed out after 0.2s"
    assert step.duration < 2


def test_server_command_and_which_facts(tmp_path: Path) -> None:
    from eventstate.facts.server import Command, Which

    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    host = inventory.get_host("@local")
    connect_all(state)
    assert state.get_fact(host, Command, "printf 'a\\nb\\n'") == "a\nb"
    assert state.get_fact(host, Which, "sh") == shutil.which("sh")
    assert state.get_fact(host, Which, command="no-such-command-here") is None
    disconnect_all(state)
    state.finish()


def test_a_fact_inside_a_python_step_takes_the_ops_arguments() -> None:
    from eventstate.context import current_host
    from eventstate.facts.files import File
    from eventstate.operations import python

    def probe() -> None:
        current_host().get_fact(File, "/etc/es-no-such-file-here")

    # The File fact fails on the sim (its stat command): ignored by the op, the host stays.
    inventory = Inventory(([("@sim/x", {"sim_fail_patterns": {"stat": 1.0}})], {}))
    state = State(inventory, Config())
    connect_all(state)
    add_op(state, python.call, probe, _ignore_errors=True)
    run_ops(state)
    facts = [
        e
        for e in with_command_events(read_events(state.log, state.run_id))
        if isinstance(e, CommandExecuted)
    ]
    assert [e.fact for e in facts if not e.success] == ["files.File(/etc/es-no-such-file-here)"]
    assert list(state.failed_hosts) == []
