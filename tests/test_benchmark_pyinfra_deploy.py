"""The pyinfra-deploy benchmark row's workload, at a tiny size, so its code cannot rot.

``benchmarks/pyinfra_deploy.py`` runs one pyinfra deploy file through pyinfra
3.10's engine (``@canned`` hosts) and through eventstate's ``run_deploy`` and
bridge (``@sim`` hosts, SQLite log), both answering commands from one table of
canned outputs, and checks they did the same work before timing them. Here the
same cases run at 2 hosts x 10 ops (every kind of operation once), and the
comparison is shown to catch a difference. No timing is asserted.

pyinfra's side always runs in a process of its own (the benchmark's case
runner): importing ``pyinfra_cli`` monkey-patches a process with gevent, which
would make later tests in this one block.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cases import CaseError
from benchmarks.pyinfra_deploy import (
    CANNED_OUTPUTS,
    canned_stdout,
    case_ours,
    compare_work,
    deploy_source,
    run_ours,
    work_digest,
)
from benchmarks.report import FAILED
from benchmarks.runner import Case, Runner
from benchmarks.suite import QUICK, Sections, measure_bridge
from eventstate.commands import StringCommand
from eventstate.connectors.base import CommandOptions
from eventstate.connectors.sim import SimConnector

HOSTS, OPS = 2, 10


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deploy through pyinfra's engine (its own process), then through ours (this one)."""
    directory = tmp_path_factory.mktemp("pyinfra-deploy")
    kept = directory / "pyinfra-work.json"
    runner = Runner(1, stream=io.StringIO())
    measured = runner.run(
        Case("pyinfra-deploy-pyinfra", {"hosts": HOSTS, "ops": OPS, "work": str(kept)}), "pyinfra"
    )
    theirs = {"hosts": json.loads(kept.read_text()), "ops": OPS, "digest": measured["digest"]}
    _, ours = run_ours(HOSTS, OPS, directory, directory / "events.db")
    return theirs, ours


ROOT_DIR = Path(__file__).resolve().parent.parent


def test_the_deploy_file_is_a_plain_pyinfra_deploy() -> None:
    source = deploy_source(OPS)
    imports = [line for line in source.splitlines() if "import" in line]
    assert imports == ["from io import StringIO", "from pyinfra.operations import files, server"]
    assert source.count("files.") == 7 and source.count("server.") == 3


def test_both_engines_do_the_same_work(both_runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both_runs
    assert ours["ops"] == OPS
    assert ours["status"] == "success"
    assert compare_work(theirs["hosts"], ours["hosts"]) == []
    assert work_digest(ours["hosts"]) == theirs["digest"]
    for work in (*theirs["hosts"].values(), *ours["hosts"].values()):
        assert (work["success_ops"], work["error_ops"]) == (OPS, 0)
    host = ours["hosts"]["@sim/h0"]
    # Every op kind did something, answered by the canned facts.
    assert host["ops"][:3] == [
        "echo 'key0 = on' >> /etc/app/app.ini",
        "chmod 644 /srv/app/file1",
        "chown app:app /srv/app/file1",
    ]
    assert "upload /srv/app/put3" in host["ops"] and "upload /srv/app/tmpl4" in host["ops"]
    assert {"groupadd grp7", "rm -f /srv/app/old9"} <= set(host["ops"])
    assert "cat /etc/group" in host["facts"]
    # pyinfra 3.10 asks every fact again at execution; ours caches them for the run (two
    # facts may share a command: File and Directory of /srv/app).
    mine, pyinfras = host["fact_runs"], theirs["hosts"]["@canned/h0"]["fact_runs"]
    assert len(host["facts"]) <= mine < pyinfras


def test_a_difference_in_either_kind_of_command_is_caught(
    both_runs: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    theirs, ours = both_runs
    other_op = copy.deepcopy(ours["hosts"])
    other_op["@sim/h1"]["ops"][2] = "chown root /srv/app/file1"
    problems = compare_work(theirs["hosts"], other_op)
    assert len(problems) == 1 and problems[0].startswith("host 1: ops differ")
    missing_fact = copy.deepcopy(ours["hosts"])
    missing_fact["@sim/h0"]["facts"].pop()
    assert compare_work(theirs["hosts"], missing_fact)[0].startswith("host 0: facts differ")
    fewer_hosts = {"@sim/h0": ours["hosts"]["@sim/h0"]}
    assert compare_work(theirs["hosts"], fewer_hosts) == [
        "2 hosts ran under pyinfra, 1 under eventstate"
    ]


def test_the_sim_connector_answers_as_the_canned_table_says() -> None:
    # Both sides read one table by one rule: @sim's own, run here for real.
    sim = SimConnector("@sim/h0", {"sim_outputs": CANNED_OUTPUTS}, "h0")
    commands = [
        "cat /etc/group",
        "uname -s",
        "command -v useradd || true",
        "grep -e '^.*k.*$' /etc/app/app.ini 2> /dev/null || true",
        "! (test -e /srv/app/file3 ) || ( stat -c 'x' /srv/app/file3 2> /dev/null )",
        "! (test -e /srv/app ) || ( stat -c 'x' /srv/app 2> /dev/null )",
        "! (test -e /srv/app/dir2 ) || ( stat -c 'x' /srv/app/dir2 2> /dev/null )",
        "echo 5",
    ]
    for command in commands:
        stdout = sim.run_shell_command(StringCommand(command), CommandOptions()).stdout
        assert stdout == canned_stdout(command), command
    assert canned_stdout("echo 5") == "" and canned_stdout("uname -s") == "Linux\n"


def test_our_case_reports_the_work_it_checked(tmp_path: Path) -> None:
    kept = tmp_path / "work.json"
    metrics = case_ours(HOSTS, 5, work=str(kept))
    work = json.loads(kept.read_text())
    assert metrics["digest"] == work_digest(work)
    assert metrics["op_commands"] == sum(len(host["ops"]) for host in work.values()) > 0
    assert metrics["events"] > metrics["op_commands"]
    assert metrics["host_ops"] == HOSTS * 5
    assert {"total_s", "prepare_s", "execute_s", "cpu_s"} <= set(metrics)


def test_a_host_that_did_not_succeed_fails_the_case(tmp_path: Path) -> None:
    from benchmarks.pyinfra_deploy import _checked

    _, ours = run_ours(1, 3, tmp_path, tmp_path / "events.db")
    ours["hosts"]["@sim/h0"]["error_ops"] = 1
    with pytest.raises(CaseError, match="did not succeed every op"):
        _checked("eventstate", 1, 3, ours)
    with pytest.raises(CaseError, match="3 operations, not 4"):
        _checked("eventstate", 1, 4, ours)


def test_the_suite_makes_the_row() -> None:
    import attrs

    plan = attrs.evolve(QUICK, bridge_shape=(HOSTS, 5), bridge_reps=1)
    sections = Sections()
    runner = Runner(plan.runs()["bridge"], stream=io.StringIO())
    measure_bridge(runner, plan, sections)
    (row,) = sections.bridge.rows
    assert row.status != FAILED, row.error
    assert row.cells["same work"] == "yes"
    assert row.label == f"{HOSTS}x5 pyinfra deploy"
    assert runner.done == plan.runs()["bridge"]
    check = row.data["check"]
    assert check["pyinfra"]["digest"] == check["ours"]["digest"] == check["digest"]
    assert check["pyinfra"]["op_commands"] == check["ours"]["op_commands"] > 0


def test_this_process_stays_unpatched() -> None:
    # pyinfra's engine ran in the cases' processes only: its CLI package, imported,
    # monkey-patches a process with gevent.
    import gevent.monkey

    assert "pyinfra_cli" not in sys.modules
    assert not gevent.monkey.is_module_patched("os")
    script = "import sys, test_benchmark_pyinfra_deploy; print('pyinfra_cli' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=True,
        # The benchmarks package is the checkout's, not installed: on the path as pytest has it.
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT_DIR), os.environ.get("PYTHONPATH")])
            ),
        },
    )
    assert result.stdout.strip() == "False", result.stderr
