"""Built-in operations change a local directory once, then report no changes."""

from __future__ import annotations

import io
from pathlib import Path

from eventstate import Config, Inventory, State
from eventstate.connect import connect_all, disconnect_all
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import files


def _deploy(root: Path) -> tuple[int, int]:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    add_op(state, files.directory, str(root / "conf"), mode=750)
    add_op(state, files.file, str(root / "conf" / "a.txt"), mode="640")
    add_op(state, files.line, str(root / "conf" / "a.txt"), "key=1")
    add_op(state, files.put, io.StringIO("content\n"), str(root / "conf" / "c.txt"))
    run_ops(state)
    disconnect_all(state)
    state.finish()
    host = inventory.get_host("@local")
    assert state.results[host].success_ops == 4
    return state.meta[host].ops_change, state.meta[host].ops_no_change


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    assert _deploy(tmp_path) == (4, 0)
    assert (tmp_path / "conf" / "a.txt").read_text() == "key=1\n"
    assert (tmp_path / "conf" / "c.txt").read_text() == "content\n"
    assert oct((tmp_path / "conf").stat().st_mode & 0o777) == "0o750"
    assert _deploy(tmp_path) == (0, 4)
