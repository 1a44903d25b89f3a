"""eventstate step and diff on real deploys: what changed, event by event; what differs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstate.cli import main
from eventstate.replay import read_log
from eventstate.replay.diff import diff_runs
from eventstate.replay.step import Change, changes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (str(ROOT / "examples" / "inventory.py"), str(ROOT / "examples" / "deploy.py"))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """Two example runs (the first changes @local, the second does not), a failed run."""
    tmp = tmp_path_factory.mktemp("stepdiff")
    path = tmp / "events.db"
    failing = tmp / "failing.py"
    failing.write_text("from eventstate.operations import server\nserver.shell('false')\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("EVENTSTATE_DEMO_DIR", str(tmp / "demo"))
    runner = CliRunner()
    try:
        for args in ([*EXAMPLE], [*EXAMPLE], ["@local,@sim/a", str(failing)]):
            result = runner.invoke(main, ["deploy", *args, "--db", str(path)])
            assert result.exit_code in (0, 1), result.output
        with read_log(path) as log:
            ids = log.run_ids()
        yield path, ids
    finally:
        mp.undo()


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_step_prints_each_event_and_what_it_changed(db: tuple[Path, list[str]]) -> None:
    path, (_, _, failed) = db
    result = _invoke("step", failed[:8], "--db", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    event_lines = [line for line in lines if not line.startswith("          ")]
    with read_log(path) as log:
        assert len(event_lines) == log.run(failed).last_seq
    assert "          current_stage: 'Setup' -> 'Connect'" in lines
    assert "          failed_hosts: [] -> ['@local']" in lines
    assert "          results.@local.error_ops: 0 -> 1" in lines


def test_step_takes_a_range_and_a_host(db: tuple[Path, list[str]]) -> None:
    path, (_, _, failed) = db
    result = _invoke(
        "step", failed, "--db", str(path), "--from", "5", "--to", "30", "--host", "@sim/a"
    )
    assert result.exit_code == 0, result.output
    events = [line for line in result.output.splitlines() if line.split()[0].isdigit()]
    seqs = [int(line.split()[0]) for line in events]
    assert seqs and all(5 <= seq <= 30 for seq in seqs)
    assert all("[@sim/a]" in line for line in events)


def test_changes_names_paths() -> None:
    before = {"a": 1, "b": {"c": [1], "d": 2}}
    after = {"a": 1, "b": {"c": [1, 2]}, "e": 3}
    found = changes(before, after)
    assert [str(c) for c in found] == [
        "b.c: [1] -> [1, 2]",
        "b.d: 2 -> (none)",
        "e: (none) -> 3",
    ]
    assert found[0] == Change("b.c", [1], [1, 2])


def test_diff_of_the_example_runs_shows_the_local_changes_gone(db: tuple[Path, list[str]]) -> None:
    path, (first, second, _) = db
    result = _invoke("diff", first[:8], second[:8], "--db", str(path))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    # The first run changed the local host; the second found nothing to change.
    assert "~ [@local] files.directory: change True -> False" in lines
    assert any(line.startswith("~ [@local] files.line: commands [") for line in lines)
    assert not any("@sim/" in line for line in lines if "change" in line)


def test_diff_of_a_run_with_itself_is_empty(db: tuple[Path, list[str]]) -> None:
    path, (first, _, _) = db
    result = _invoke("diff", first, first, "--db", str(path))
    assert (result.exit_code, result.output) == (0, "the runs did the same\n")


def test_diff_names_hosts_and_new_failures(db: tuple[Path, list[str]]) -> None:
    path, (first, _, failed) = db
    with read_log(path) as log:
        found = diff_runs(log.run(first), log.run(failed))
    assert found.hosts_added == ["@sim/a"]
    assert found.hosts_removed == ["@sim/web1", "@sim/web2", "@sim/web3", "@sim/db1"]
    assert found.new_failures == ["@local"]
    assert not found.same


def test_every_deploy_run_here_reruns_without_divergence(db: tuple[Path, list[str]]) -> None:
    path, ids = db
    for run_id in ids:
        result = _invoke("rerun", run_id, "--db", str(path))
        assert result.exit_code == 0, result.output
        assert "no divergence" in result.output


def test_bad_input_is_one_line(db: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, (first, _, _) = db
    for args in (
        ("step", "nope", "--db", str(path)),
        ("diff", first, "nope", "--db", str(path)),
        ("diff", first, first, "--db", str(tmp_path / "missing.db")),
        ("rerun", first, "--db", str(tmp_path / "missing.db")),
        ("timeline", first, "--db", str(path), "--html", str(tmp_path / "no" / "such" / "x.html")),
    ):
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, args


def test_step_from_past_the_end_is_the_error_state_at_gives(db: tuple[Path, list[str]]) -> None:
    path, (_, _, failed) = db
    with read_log(path) as log:
        last = log.run(failed).last_seq
    stepped = _invoke("step", failed, "--db", str(path), "--from", str(last + 1))
    at = _invoke("state", failed, "--db", str(path), "--at", str(last + 1))
    assert stepped.exit_code == at.exit_code == 2
    assert stepped.stdout == at.stdout == ""
    assert stepped.stderr == f"Error: --from {last + 1}: run {failed[:8]} has {last} events\n"
    assert at.stderr == f"Error: --at {last + 1}: run {failed[:8]} has {last} events\n"
    # The last event itself is still a step.
    (line,) = [
        line
        for line in _invoke("step", failed, "--db", str(path), "--from", str(last)).stdout.split(
            "\n"
        )
        if line and not line.startswith(" " * 10)
    ]
    assert line.split()[0] == str(last)
