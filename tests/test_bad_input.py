"""Bad input is one line, never a traceback: damaged logs, hostile imports, broken inventories.

Every stored or imported byte is checked before it is used. What cannot be
used is an :class:`~eventstate.errors.EventstateError`, which the command line
prints as one ``Error:`` line with exit status 2 (``--debug`` shows the
traceback). Each case here was a traceback once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from eventstate import (
    CodecError,
    EventstateError,
    InventoryError,
    SqliteEventLog,
    StoreCorruptError,
)
from eventstate.chain import chain_hash
from eventstate.cli import main
from eventstate.codec import EventCodec, payload_fields
from eventstate.deploy import load_inventory
from eventstate.events import HostActivated, OperationAddedForHost, RunFinished, RunStatus
from eventstate.inventory import Inventory
from eventstate.replay import export_line, read_export
from eventstate.testing.runs import sample_run

RUN = "run-1"

#: Every read command, on the run RUN of the log ``db`` (and its page in ``tmp``).
READ_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("runs",),
    ("runs", "--json"),
    ("show", RUN),
    ("show", RUN, "--json"),
    ("events", RUN),
    ("events", RUN, "--json"),
    ("state", RUN),
    ("state", RUN, "--json"),
    ("state", RUN, "--at", "2"),
    ("verify",),
    ("verify", RUN),
    ("export", RUN),
    ("step", RUN),
    ("diff", RUN, RUN),
    ("timeline", RUN, "--html", "{tmp}/timeline.html"),
    ("report", RUN, "--html", "{tmp}/report.html"),
)


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=True)


def assert_clean(result: Result, *, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    """No traceback: the command ended by itself; an error is one ``Error:`` line."""
    exception = result.exception
    assert exception is None or isinstance(exception, SystemExit), (
        f"{type(exception).__name__}: {exception}\n{result.output}"
    )
    assert result.exit_code in allowed, result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def one_error(result: Result) -> str:
    """The one ``Error:`` line of a command that failed with exit status 2."""
    assert_clean(result, allowed=(2,))
    return result.stderr.strip()


def every_read_command(db: Path, tmp: Path) -> list[Result]:
    results = []
    for command in READ_COMMANDS:
        args = [arg.format(tmp=tmp) for arg in command]
        result = invoke(*args, "--db", db)
        assert_clean(result)
        results.append(result)
    return results


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A log holding one sample run, RUN (8 events: 3 hosts, one failed)."""
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        log.append(sample_run(RUN).rows())
    return path


def tamper(path: Path, sql: str, *params: object) -> None:
    """Run ``sql`` on the log with its UPDATE guard dropped (what a forger, or a bad disk,
    may do), and put the guard back."""
    with closing(sqlite3.connect(path)) as db:
        (guard,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'events_no_update'"
        ).fetchone()
        db.execute("DROP TRIGGER events_no_update")
        db.execute(sql, params)
        db.execute(guard)
        db.commit()


# -- Damaged logs --------------------------------------------------------------------------


def test_a_payload_that_is_not_utf8_is_one_line_naming_the_run(
    log_file: Path, tmp_path: Path
) -> None:
    tamper(log_file, "UPDATE events SET payload = CAST(X'7b22ff22' AS TEXT) WHERE seq = 3")
    for result in every_read_command(log_file, tmp_path):
        if result.exit_code == 2:
            assert "not UTF-8" in result.stderr
    # verify reports the run it cannot read as a finding (exit 1), no traceback.
    verified = invoke("verify", "--db", log_file)
    assert_clean(verified, allowed=(1,))
    said = f"run {RUN}, the row after event 2: its payload holds text that is not UTF-8"
    assert said in verified.output
    with SqliteEventLog(log_file, read_only=True) as log, pytest.raises(StoreCorruptError):
        list(log.read(RUN))


def test_a_damaged_btree_page_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        for n in range(20):
            log.append(sample_run(f"run-{n}", hosts=[f"h{i}" for i in range(30)]).rows())
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    assert pages > 10
    for page in range(3, pages, 3):  # the page header of every third page of rows
        if b"CREATE " in data[page * page_size : (page + 1) * page_size]:
            continue  # the schema's (its views'): a log without it is no log to verify
        data[page * page_size : page * page_size + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    assert "damaged" in one_error(invoke("runs", "--db", path))
    assert "damaged" in one_error(invoke("show", "run-1", "--db", path))
    # verify reports the damage as its findings (exit 1), no traceback.
    verified = invoke("verify", "--db", path)
    assert_clean(verified, allowed=(1,))
    assert "damaged" in verified.output


def test_a_seq_stored_as_text_is_one_line(log_file: Path, tmp_path: Path) -> None:
    tamper(log_file, "UPDATE events SET seq = 'three' WHERE seq = 3")
    every_read_command(log_file, tmp_path)
    for command in (("state", RUN), ("show", RUN), ("diff", RUN, RUN)):
        error = one_error(invoke(*command, "--db", log_file))
        assert f"run {RUN}" in error and "seq" in error and "'three'" in error
    with SqliteEventLog(log_file, read_only=True) as log, pytest.raises(StoreCorruptError):
        list(log.read(RUN))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("version", "one"),
        ("version", 1.5),
        ("host", b"web1"),
        ("payload", b"{}"),
        ("timestamp", b"2026"),
        ("prev_hash", b"00"),
        ("run_id", b"run-1"),
    ],
)
def test_a_column_of_the_wrong_type_is_a_damaged_log(
    log_file: Path, tmp_path: Path, column: str, value: object
) -> None:
    tamper(log_file, f"UPDATE events SET {column} = ? WHERE seq = 3", value)
    every_read_command(log_file, tmp_path)
    with SqliteEventLog(log_file, read_only=True) as log, pytest.raises(StoreCorruptError):
        if column == "run_id":
            log.runs()
        list(log.read(RUN))


def test_a_payload_that_is_not_json_is_one_line(log_file: Path, tmp_path: Path) -> None:
    tamper(log_file, "UPDATE events SET payload = 'not json' WHERE seq = 3")
    every_read_command(log_file, tmp_path)
    for command in (("events", RUN), ("events", RUN, "--json")):
        error = one_error(invoke(*command, "--db", log_file))
        assert f"run {RUN}, event 3: payload is not JSON" in error


def test_an_op_added_for_a_host_not_in_the_inventory_is_shown(tmp_path: Path) -> None:
    run = sample_run(RUN)
    run.events.pop()  # its RunFinished: it comes after
    run.add(OperationAddedForHost, host="ghost", op_hash="op1", is_change=True)
    run.add(HostActivated, host="ghost2")
    run.add(RunFinished, status=RunStatus.SUCCESS)
    path = tmp_path / "events.db"
    with SqliteEventLog(path) as log:
        log.append(run.rows())
    every_read_command(path, tmp_path)
    result = invoke("state", RUN, "--db", path)
    assert result.exit_code == 0
    (ghost,) = [line for line in result.stdout.splitlines() if line.startswith("ghost ")]
    assert ghost.split()[:3] == ["ghost", "1", "1"]
    as_json = json.loads(invoke("state", RUN, "--json", "--db", path).stdout)
    assert as_json["meta"]["ghost"]["ops"] == 1


# -- The codec, on its own ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [5, None, [1], b"\xff", "\ud800", "[" * 100_000])
def test_payload_fields_refuse_what_is_not_a_json_object(payload: Any) -> None:
    with pytest.raises(CodecError):
        payload_fields(payload)


@pytest.mark.parametrize(
    "changed",
    [
        {"host": 5},
        {"host": None},
        {"at": 5},
        {"at": "yesterday"},
        {"at": "2026-01-01T00:00:00"},  # no timezone
        {"seq": "3"},
        {"seq": True},
        {"run_id": ["run-1"]},
        {"op_hash": {"a": 1}},
        {"is_change": "yes"},
        {"v": "1"},
        {"v": 10**40},
        {"type": ["HostActivated"]},
    ],
)
def test_a_decoded_field_of_the_wrong_type_is_a_codec_error(changed: dict[str, Any]) -> None:
    codec = EventCodec()
    run = sample_run(RUN)
    run.add(OperationAddedForHost, host="web1", op_hash="op1", is_change=True)
    fields = {**codec.to_dict(run.events[-1]), **changed}
    with pytest.raises(CodecError):
        codec.from_dict(fields)


# -- Imports ------------------------------------------------------------------------------------


def _export(run_id: str = RUN) -> list[dict[str, Any]]:
    return [json.loads(export_line(row)) for row in sample_run(run_id).rows()]


def _import(tmp_path: Path, data: bytes) -> Result:
    source = tmp_path / "export.jsonl"
    source.write_bytes(data)
    return invoke("import", source, "--db", tmp_path / "imported.db")


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def test_a_good_export_imports(tmp_path: Path) -> None:
    result = _import(tmp_path, _lines(_export()))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (bytes(range(255, -1, -1)) * 3, ":1: not an exported event (not UTF-8"),
        (b"\xef\xbb\xbf" + b'{"a": 1}\n', ":1: not an exported event (not JSON"),
        (b"[" * 100_000 + b"\n", ":1: not an exported event (not JSON"),
        (b'{"run_id":' * 100_000 + b"\n", ":1: not an exported event (not JSON"),
        (b"5\n", ":1: not an exported event (a JSON object was expected, not an integer)"),
        (b'{"run_id": 1' + b"9" * 5000 + b"}\n", ":1: not an exported event (not JSON"),
        (b'{"seq": 1}\n', ":1: not an exported event (missing run_id, type,"),
        (b'\n\n{"seq": 1}\n', ":3: not an exported event"),
    ],
    ids=["random", "bom", "nested-arrays", "nested-objects", "number", "huge-int", "keys", "line"],
)
def test_an_import_of_what_is_not_an_export_is_one_line(
    tmp_path: Path, data: bytes, said: str
) -> None:
    error = one_error(_import(tmp_path, data))
    assert said in error
    assert not (tmp_path / "imported.db").exists()  # nothing written


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("payload", 5),
        ("payload", None),
        ("payload", [1]),
        ("payload", {"type": "RunStarted"}),
        ("payload", "\ud800"),
        ("run_id", "\ud800"),
        ("run_id", 5),
        ("run_id", ["run-1"]),
        ("run_id", {"a": 1}),
        ("run_id", None),
        ("timestamp", 5),
        ("timestamp", None),
        ("timestamp", ["2026"]),
        ("host", 5),
        ("host", ["web1"]),
        ("host", {"name": "web1"}),
        ("seq", "1"),
        ("seq", 1.0),
        ("seq", True),
        ("seq", 0),
        ("seq", -1),
        ("seq", 2**63),
        ("seq", 10**30),
        ("version", "1"),
        ("version", True),
        ("type", 5),
        ("prev_hash", 1),
        ("hash", None),
    ],
)
def test_an_exported_row_of_the_wrong_type_is_one_line(
    tmp_path: Path, key: str, value: object
) -> None:
    rows = _export()
    rows[2][key] = value
    error = one_error(_import(tmp_path, _lines(rows)))
    assert "export.jsonl:3: not " in error, error  # not JSON (surrogates), or not a row
    assert not (tmp_path / "imported.db").exists()


def test_read_export_refuses_wrong_types_with_codec_errors() -> None:
    rows = _export()
    rows[0]["seq"] = "1"
    with pytest.raises(CodecError, match=r"<export>:1: .*seq must be an integer, not a string"):
        read_export([json.dumps(row) for row in rows])
    with pytest.raises(CodecError, match=r"<export>:1: not an exported event \(not UTF-8"):
        read_export([b"\xff\n"])


# -- Inventories ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        [("@sim/a", 5)],
        [("@sim/a", [1, 2])],
        [("@sim/a", {1: "x"})],
        [("@sim/a", {"x": 1}, 3)],
        [()],
        [("@sim/a",)],
        [5],
        [None],
        [b"@sim/a"],
        "@sim/a",
    ],
)
def test_an_inventory_entry_that_is_not_a_host_is_an_inventory_error(spec: Any) -> None:
    with pytest.raises(InventoryError):
        Inventory((spec, {}))
    with pytest.raises(InventoryError):
        Inventory((["@sim/b"], {}), web=(spec, {}))


@pytest.mark.parametrize("data", [5, [1], "x", {1: 2}])
def test_inventory_and_group_data_that_is_not_a_mapping_is_an_inventory_error(data: Any) -> None:
    with pytest.raises(InventoryError):
        Inventory((["@sim/a"], data))
    with pytest.raises(InventoryError):
        Inventory((["@sim/a"], {}), web=(["@sim/a"], data))
    with pytest.raises(InventoryError):
        Inventory((["@sim/a"], {}), override_data=data)


def test_a_long_comma_separated_host_list_is_hosts_not_a_path() -> None:
    names = [f"@sim/h{n}" for n in range(1000)]
    inventory = load_inventory(",".join(names))
    assert list(inventory.host_names()) == names


def test_a_path_too_long_for_the_system_is_one_error() -> None:
    with pytest.raises(EventstateError):
        load_inventory("x" * 5000 + ".py")


DEPLOY = "from eventstate.operations import server\nserver.shell('true')\n"


@pytest.mark.parametrize(
    "inventory",
    [
        "hosts = [('@sim/a', 5)]\n",
        "hosts = [('@sim/a', {'x': 1})]\nhosts_data = 5\n",
        "hosts = ['@sim/a']\ndata = [1]\n",
        "hosts = (['@sim/a'], 5)\n",
    ],
)
def test_a_bad_inventory_file_is_one_line(tmp_path: Path, inventory: str) -> None:
    (tmp_path / "inventory.py").write_text(inventory)
    (tmp_path / "deploy.py").write_text(DEPLOY)
    result = invoke(
        "deploy", tmp_path / "inventory.py", tmp_path / "deploy.py", "--db", tmp_path / "x.db"
    )
    assert "inventory.py" in one_error(result)
    assert not (tmp_path / "x.db").exists()  # found before the log is opened


def test_a_thousand_hosts_given_on_the_command_line_deploy(tmp_path: Path) -> None:
    (tmp_path / "deploy.py").write_text("")
    hosts = ",".join(f"@sim/h{n}" for n in range(1000))
    result = invoke("deploy", hosts, tmp_path / "deploy.py", "--db", tmp_path / "x.db")
    assert_clean(result, allowed=(0,))


# -- An op that raises at execute time --------------------------------------------------------

RAISES_AT_EXECUTE = """\
from eventstate.context import current
from eventstate.operation import operation


@operation
def breaks():
    state, _ = current()
    if state.is_executing:  # prepared fine; broken when it runs
        raise RuntimeError("broke while executing")
    yield "true"


breaks()
"""


def _deploy_process(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deploy.py").write_text(RAISES_AT_EXECUTE)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "eventstate",
            "deploy",
            "@sim/a,@sim/b",
            str(tmp_path / "deploy.py"),
            "--db",
            str(tmp_path / "x.db"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("mode", [(), ("--serial",), ("--no-wait",), ("--parallel", "1")])
def test_an_op_that_raises_at_execute_time_is_one_line(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    done = _deploy_process(tmp_path, *mode)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["Error: RuntimeError: broke while executing"]
    assert "aborted" in done.stdout


def test_with_debug_an_op_that_raises_at_execute_time_shows_its_traceback(
    tmp_path: Path,
) -> None:
    done = _deploy_process(tmp_path, "--debug")
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "broke while executing" in done.stderr


# -- Only the project's errors come out of the store ----------------------------------------


def _closed_log(path: Path) -> SqliteEventLog:
    log = SqliteEventLog(path)
    log.db.conn.close()  # closed under it: every use is a driver error
    return log


@pytest.mark.parametrize(
    "use",
    [
        lambda log: log.runs(),
        lambda log: list(log.read(RUN)),
        lambda log: log.last_event(RUN),
        lambda log: log.append(sample_run("run-2").rows()),
        lambda log: log.check_guards(),
        lambda log: log.snapshots().latest(RUN, 1, "x"),
        lambda log: log.snapshots().put(RUN, 1, "x", "{}"),
    ],
)
def test_every_store_error_is_a_store_error(
    log_file: Path, use: Callable[[SqliteEventLog], object]
) -> None:
    with pytest.raises(EventstateError):
        use(_closed_log(log_file))


def test_a_payload_chained_but_not_an_event_is_reported_by_verify(
    log_file: Path, tmp_path: Path
) -> None:
    # A payload rewritten with its hash recomputed: the chain holds, the codec refuses it.
    with closing(sqlite3.connect(log_file)) as db:
        rows = db.execute("SELECT seq, payload, prev_hash FROM events ORDER BY seq").fetchall()
    forged = '{"type": "HostActivated", "host": ["web1"]}'
    prev = rows[1][2]
    tamper(
        log_file,
        "UPDATE events SET payload = ?, hash = ? WHERE seq = 2",
        forged,
        chain_hash(prev, forged),
    )
    every_read_command(log_file, tmp_path)
    assert invoke("verify", "--db", log_file).exit_code == 1


def test_an_upcaster_that_fails_on_stored_data_is_a_codec_error() -> None:
    codec = EventCodec()
    run = sample_run(RUN)
    fields = {**codec.to_dict(run.events[-1]), "v": 1}  # RunFinished, version 1
    fields.pop("signal")
    assert codec.from_dict(fields).signal is None  # type: ignore[attr-defined]

    def broken(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "signal": data["no such key"]}

    codec.register_upcaster("RunFinished", 1, broken)
    with pytest.raises(CodecError, match="cannot upcast RunFinished from version 1"):
        codec.from_dict(fields)


@pytest.mark.parametrize("path", ["x" * 5000, "a\0b"])
def test_a_log_path_that_cannot_be_a_path_is_a_store_error(path: str) -> None:
    with pytest.raises(EventstateError):
        SqliteEventLog(path)
    with pytest.raises(EventstateError):
        SqliteEventLog(path, read_only=True)


def test_a_directory_given_as_the_log_is_one_line(tmp_path: Path) -> None:
    assert "is a directory" in one_error(invoke("runs", "--db", tmp_path))
    error = one_error(invoke("import", tmp_path / "none.jsonl", "--db", tmp_path))
    assert "cannot read" in error
