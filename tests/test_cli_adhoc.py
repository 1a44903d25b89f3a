"""``eventstate facts`` and ``eventstate exec``: pyinfra's ad-hoc verbs, each a recorded run."""

from __future__ import annotations

import hashlib
import json
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from eventstate.cli import main
from eventstate.cli.adhoc import fact_requests
from eventstate.cli.base import parse_value
from eventstate.errors import UsageError
from eventstate.replay import read_log, verify_run


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


def _only_run(db: Path) -> tuple[Any, list[dict[str, Any]]]:
    """The log's one run, and its events as dicts."""
    with read_log(str(db)) as log:
        [run_id] = log.run_ids()
        run = log.run(run_id)
        assert verify_run(log.log, run_id).ok
        view = run.state()
        events = [json.loads(stored.payload) for stored in run.stored()]
    return view, events


def _commands(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every command, as a CommandExecuted's dict: an op's come in its outcome's ``commands``."""
    commands = []
    for event in events:
        if event["type"] == "CommandExecuted":
            commands.append(event)
        elif event["type"] == "HostOperationFinished":
            for command in event["commands"]:
                fact = command["fact"]
                op_hash = None if fact is not None else event["op_hash"]
                commands.append(
                    {
                        **command,
                        "type": "CommandExecuted",
                        "host": event["host"],
                        "op_hash": op_hash,
                    }
                )
    return commands


# facts


def test_facts_print_json_by_fact_then_host_and_record_each_fact_command(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "motd"
    target.write_text("hello\n")
    result = _invoke(
        runner, "facts", "@local", "server.Arch", "files.File", f"path={target}", "--json"
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert list(printed) == ["server.Arch", f"files.File (path={target})"]
    assert printed["server.Arch"] == {"@local": platform.machine()}
    assert printed[f"files.File (path={target})"]["@local"]["size"] == 6
    assert result.stderr.splitlines()[-1].startswith("run ")

    view, events = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "success"
    facts = [(command["host"], command["fact"]) for command in _commands(events)]
    assert facts == [("@local", "server.Arch()"), ("@local", f"files.File(path={target})")]
    assert not view.op_meta  # facts only: no operation


def test_facts_without_json_print_pyinfras_blocks(runner: CliRunner) -> None:
    result = _invoke(runner, "facts", "@local,@sim/a", "server.Arch")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "--> Fact data for: server.Arch"
    # The simulated host prints nothing: the fact's default.
    assert json.loads("\n".join(lines[1:])) == {"@local": platform.machine(), "@sim/a": None}


def test_pyinfras_facts_by_their_names_through_the_bridge(
    runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"pyinfra")
    result = _invoke(
        runner,
        "facts",
        "@local",
        "server.Hostname",
        "files.Sha1File",
        f"path={target}",
        "server.LinuxName",
        "--json",
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["server.Hostname"] == {"@local": socket.gethostname()}
    assert printed[f"files.Sha1File (path={target})"] == {
        "@local": hashlib.sha1(b"pyinfra").hexdigest()
    }
    assert isinstance(printed["server.LinuxName"]["@local"], str)
    _, events = _only_run(tmp_path / "eventstate.db")
    recorded = [command["fact"] for command in _commands(events)]
    assert recorded[0] == "server.Hostname()"
    assert recorded[1] == f"files.Sha1File(path={target})"


def test_a_pyinfra_fact_asking_another_in_its_command(runner: CliRunner, tmp_path: Path) -> None:
    # server.Mounts' command asks host.get_fact(Kernel): pyinfra's context is on the host.
    result = _invoke(runner, "facts", "@local", "server.Mounts", "--json")
    assert result.exit_code == 0, result.output
    assert "/proc" in json.loads(result.stdout)["server.Mounts"]["@local"]
    _, events = _only_run(tmp_path / "eventstate.db")
    assert [c["fact"] for c in _commands(events)] == ["server.Kernel()", "server.Mounts()"]


def test_a_fact_whose_code_raises_aborts_the_run_naming_fact_and_host(
    runner: CliRunner, tmp_path: Path
) -> None:
    # A simulated host prints nothing: pyinfra's Mounts then calls .strip() on None.
    result = _invoke(runner, "facts", "@sim/x", "server.Mounts")
    assert result.exit_code == 2
    assert "Error: server.Mounts on @sim/x: AttributeError: " in result.stderr
    view, _ = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "aborted"
    assert view.run.error.startswith("server.Mounts on @sim/x: AttributeError")


def test_ours_come_first_and_pyinfras_by_its_whole_path(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    ours = _invoke(runner, "facts", "@local", "files.File", f"path={target}", "--json")
    theirs = _invoke(
        runner, "facts", "@local", "pyinfra.facts.files.File", f"path={target}", "--json"
    )
    assert ours.exit_code == theirs.exit_code == 0, ours.output + theirs.output
    mine = json.loads(ours.stdout)[f"files.File (path={target})"]["@local"]
    pyinfras = json.loads(theirs.stdout)[f"files.File (path={target})"]["@local"]
    assert mine["type"] == "regular file" and mine["size"] == 1
    assert "mtime" in pyinfras and pyinfras["size"] == 1  # pyinfra's File: its own keys


def test_a_fact_failing_fails_that_host_and_the_others_answer(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _invoke(
        runner, "facts", "@local,@sim/a", "server.Command", "command=exit 3", "server.Arch"
    )
    assert result.exit_code == 1
    blocks = result.stdout.split("--> Fact data for: ")[1:]
    assert [block.splitlines()[0] for block in blocks] == [
        "server.Command (command=exit 3)",
        "server.Arch",
    ]
    # The failed host is asked nothing more.
    assert json.loads(blocks[1].split("\n", 1)[1]) == {"@sim/a": None}
    assert "[@local] server.Command(command=exit 3): exit 3" in result.stderr
    view, _ = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "failed"
    assert set(view.failed_hosts) == {"@local"}


def test_a_fact_failing_on_the_last_host_aborts_the_run(runner: CliRunner, tmp_path: Path) -> None:
    result = _invoke(runner, "facts", "@local", "server.Command", "command=exit 3")
    assert result.exit_code == 1
    assert "Error: No hosts remaining!" in result.stderr
    view, _ = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "aborted"


def test_global_arguments_among_a_facts_arguments_and_as_options(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _invoke(
        runner,
        "facts",
        "@sim/a",
        "server.Arch",
        "_sudo=true",
        "server.Which",
        "command=sh",
        "--su-user",
        "deployer",
    )
    assert result.exit_code == 0, result.output
    _, events = _only_run(tmp_path / "eventstate.db")
    shown = [command["command"] for command in _commands(events)]
    assert shown[0].startswith("sudo ") and "uname -m" in shown[0]
    assert shown[1].startswith("su deployer ")


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (
            ["server.LinuxNam"],
            "Error: unknown fact 'server.LinuxNam'; did you mean server.LinuxName",
        ),
        (["nodots"], "Error: invalid fact 'nodots': a fact is named module.ClassName"),
        (["path=/etc", "files.File"], "Error: argument 'path=/etc' comes before any fact"),
        (
            ["server.Arch", "path=/etc"],
            "Error: server.Arch: got an unexpected keyword argument 'path' (its arguments: none)",
        ),
        (
            ["files.File"],
            "Error: files.File: missing a required argument: 'path' (its arguments: path)",
        ),
    ],
)
def test_a_mistake_in_the_facts_is_one_line_and_records_nothing(
    runner: CliRunner, tmp_path: Path, words: list[str], said: str
) -> None:
    result = _invoke(runner, "facts", "@local", *words)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(said), result.output
    assert not (tmp_path / "eventstate.db").exists()


def test_an_unknown_fact_without_the_extra_names_the_install(tmp_path: Path) -> None:
    # pyinfra hidden from this process: find_spec reads a None module as not installed.
    script = (
        "import sys; sys.modules['pyinfra'] = None; "
        "from eventstate.cli import main; main(prog_name='eventstate')"
    )
    args = ["facts", "@local", "server.LinuxName"]
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: unknown fact 'server.LinuxName'; did you mean server.LinuxDistribution? "
        "(pyinfra's facts need pip install 'eventstate[pyinfra]')"
    )


def test_values_and_requests_are_read_as_pyinfra_reads_them() -> None:
    assert [parse_value(text) for text in ("true", "False", "12", '["a"]', "/etc", "")] == [
        True,
        False,
        12,
        ["a"],
        "/etc",
        "",
    ]
    requests = fact_requests(["files.File", "path=/a=b", "server.Arch"])
    assert [(request.key, request.pyinfra) for request in requests] == [
        ("files.File (path=/a=b)", False),
        ("server.Arch", False),
    ]
    with pytest.raises(UsageError):
        fact_requests([])


# exec


def test_exec_prints_each_hosts_output_prefixed_and_records_a_shell_op(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _invoke(
        runner, "exec", "@local,@sim/a", "--", "echo", "hi", "&&", "echo", "oops", ">&2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[@local] hi"]
    assert "[@local] oops" in result.stderr.splitlines()
    view, events = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "success"
    [meta] = view.op_meta.values()
    assert list(meta.names) == ["server.shell"]
    ran = sorted((command["host"], command["command"]) for command in _commands(events))
    assert ran == [("@local", "echo hi && echo oops >&2"), ("@sim/a", "echo hi && echo oops >&2")]


def test_exec_options_before_the_command_and_words_without_dashes(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _invoke(runner, "exec", "@sim/a,@sim/b", "--limit", "@sim/b", "--sudo", "true")
    assert result.exit_code == 0, result.output
    _, events = _only_run(tmp_path / "eventstate.db")
    assert [(c["host"], c["command"]) for c in _commands(events)] == [("@sim/b", "sudo true")]

    (tmp_path / "eventstate.db").unlink()
    listed = _invoke(runner, "exec", "@local", "ls", "-d", str(tmp_path))
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [f"[@local] {tmp_path}"]


def test_exec_failing_on_a_host_exits_1_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    result = _invoke(runner, "exec", "@local,@sim/a", "--", "echo before; exit 3")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["[@local] before"]
    assert "[@local] echo before; exit 3: exit 3" in result.stderr
    view, _ = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "failed"
    assert set(view.failed_hosts) == {"@local"}


def test_a_host_that_cannot_connect_is_named_and_the_others_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "inventory.py").write_text(
        'hosts = ["@local", ("@sim/down", {"sim_connect_fail_rate": 1})]\n'
    )
    result = _invoke(runner, "exec", "inventory.py", "--", "echo", "up")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["[@local] up"]
    assert "[@sim/down] could not connect: " in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["@local,@nope/x"], "Error: no connector called 'nope' (installed: "),
        (["@local", "--db", "/no/such/dir/x.db"], "Error: "),
    ],
)
def test_a_bad_target_or_log_is_one_line(
    runner: CliRunner, tmp_path: Path, args: list[str], said: str
) -> None:
    for verb in (["exec", *args, "--", "true"], ["facts", *args, "server.Arch"]):
        result = runner.invoke(main, verb)
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith(said), result.output
    assert not (tmp_path / "eventstate.db").exists()


def test_exec_with_no_command_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["exec", "@local", "--", " "])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: give the command to run after --"
    assert not (tmp_path / "eventstate.db").exists()


# both, as any run


def test_an_inventory_file_and_a_group_limit(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "inventory.py").write_text('web = ["@local"]\ndb = ["@sim/db1", "@sim/db2"]\n')
    result = _invoke(runner, "facts", "inventory.py", "server.Arch", "--limit", "web", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"server.Arch": {"@local": platform.machine()}}
    ran = _invoke(runner, "exec", "inventory.py", "--limit", "db", "--", "true")
    assert ran.exit_code == 0, ran.output
    with read_log(str(tmp_path / "eventstate.db")) as log:
        view = log.run("latest").state()
    assert sorted(name for name in view.run.hosts if view.meta[name].ops) == [
        "@sim/db1",
        "@sim/db2",
    ]


def test_a_signal_records_the_ad_hoc_run_interrupted(tmp_path: Path) -> None:
    pid_file = tmp_path / "command.pid"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eventstate",
            "exec",
            "@local",
            "--",
            f"echo $$ > {pid_file}; sleep 60 & wait",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for _ in range(600):  # until the command runs: not a timing assertion
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the command never ran")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143
    assert stderr.decode().startswith("Interrupted by SIGTERM: run "), stderr.decode()
    view, _ = _only_run(tmp_path / "eventstate.db")
    assert view.run.status.value == "interrupted"


def test_runs_and_show_list_the_ad_hoc_runs_by_their_verb(tmp_path: Path) -> None:
    def eventstate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eventstate", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert eventstate("facts", "@local", "server.Arch").returncode == 0
    assert eventstate("exec", "@local", "--", "true").returncode == 0
    listed = eventstate("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    newest, oldest = json.loads(listed.stdout)
    assert newest["command"].endswith("exec @local -- true")
    assert oldest["command"].endswith("facts @local server.Arch")
    assert newest["status"] == oldest["status"] == "success"
    shown = eventstate("show", oldest["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert "facts @local server.Arch" in shown.stdout
    assert "status    success" in shown.stdout
