"""A failed deploy says why: each failure as it happens, then a closing list and what next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventstate.cli.failure_lines import Failure, next_step
from eventstate.events import CommandExecuted


def _deploy(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "deploy.py").write_text("from eventstate.operations import server\n" + source)
    env = {key: value for key, value in os.environ.items() if key != "EVENTSTATE_DB"}
    return subprocess.run(
        [sys.executable, "-m", "eventstate", "deploy", *args, "deploy.py", "--db", "e.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _run_id(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("run ")]
    return line.split()[1]


def test_a_failing_local_deploy_says_the_command_its_exit_code_and_stderr(
    tmp_path: Path,
) -> None:
    done = _deploy(
        tmp_path, "server.shell('echo fine')\nserver.shell('echo oops >&2; exit 3')\n", "@local"
    )
    assert done.returncode == 1, done.stderr
    said = "[@local] failed: server.shell: `echo oops >&2; exit 3` exit 3: oops"
    errors = done.stderr.splitlines()
    # The failure, as it happened, then the reason the run stopped.
    assert errors == [said, "Error: No hosts remaining!"]
    # The closing list, and where to read the rest.
    out = done.stdout.splitlines()
    run_id = _run_id(done.stdout)
    assert out[-3:] == [
        "failures (1):",
        "  [@local] server.shell: `echo oops >&2; exit 3` exit 3: oops",
        f"next: eventstate show {run_id} --db e.db",
    ]
    shown = subprocess.run(
        [sys.executable, "-m", "eventstate", "show", run_id, "--db", "e.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "oops" in shown.stdout


def test_connect_failures_are_said_with_their_reason_and_listed(tmp_path: Path) -> None:
    done = _deploy(tmp_path, "server.shell('true')\n", "@local,web1.invalid")
    assert done.returncode == 1, done.stderr
    assert "[web1.invalid] could not connect: " in done.stderr
    listed = [line for line in done.stdout.splitlines() if line.startswith("  [web1.invalid]")]
    assert len(listed) == 1 and "could not connect: " in listed[0]
    assert listed[0].split("could not connect: ")[1].strip()  # a reason, not nothing
    assert "failures (1):" in done.stdout and "next: eventstate show " in done.stdout


def test_a_fact_that_cannot_be_gathered_is_said_and_listed(tmp_path: Path) -> None:
    done = _deploy(
        tmp_path,
        "from eventstate.context import current\n"
        "from eventstate.facts.base import Fact\n"
        "class Broken(Fact):\n"
        "    def command(self):\n"
        "        return 'echo no such thing >&2; exit 5'\n"
        "state, host = current()\n"
        "host.get_fact(Broken)\n"
        "server.shell('true')\n",
        "@local",
    )
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("[@local] failed")]
    assert line.startswith("[@local] failed: fact ") and line.endswith(
        ": `echo no such thing >&2; exit 5` exit 5: no such thing"
    )
    assert "failures (1):" in done.stdout and "next: eventstate show " in done.stdout


def test_an_ignored_error_is_said_and_not_listed(tmp_path: Path) -> None:
    done = _deploy(tmp_path, "server.shell('echo meh >&2; false', _ignore_errors=True)\n", "@local")
    assert done.returncode == 0, done.stderr
    assert "[@local] error ignored: server.shell: `echo meh >&2; false` exit 1: meh" in done.stderr
    assert "failures" not in done.stdout and "next:" not in done.stdout


def test_a_successful_deploy_says_no_failure(tmp_path: Path) -> None:
    done = _deploy(tmp_path, "server.shell('true')\n", "@local")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "failures" not in done.stdout and "next:" not in done.stdout


def test_a_secret_in_a_failing_command_stays_masked(tmp_path: Path) -> None:
    done = _deploy(
        tmp_path,
        "from eventstate import Secret\n"
        "from eventstate.commands import StringCommand\n"
        "server.shell(StringCommand('echo', Secret('hunter2'), '>&2; exit 4'))\n",
        "@local",
    )
    assert done.returncode == 1, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("[@local] failed")]
    assert line == "[@local] failed: server.shell: `echo *** >&2; exit 4` exit 4: ***"


def _failed(command: str, **fields: object) -> CommandExecuted:
    envelope = {"run_id": "r", "seq": 1, "at": "2026-01-01T00:00:00Z"}
    return CommandExecuted(host="h", command=command, success=False, **envelope, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stderr", "stdout", "said"),
    [
        ("a\nb\n\nc\nd\n", "", "exit 2: b | c | d"),  # the last lines, blank ones skipped
        ("", "only stdout\n", "exit 2: only stdout"),  # nothing on stderr: stdout's
        ("", "", "exit 2 (no output)"),
    ],
)
def test_a_failure_line_quotes_the_end_of_the_output(stderr: str, stdout: str, said: str) -> None:
    event = _failed("run it", exit_code=2, stdout=stdout, stderr=stderr)
    assert Failure.of_command("server.shell", event).text() == f"server.shell: `run it` {said}"


def test_a_timeout_has_no_exit_code() -> None:
    event = _failed("sleep 9", stderr="timed out after 1s")
    assert Failure.of_command("op", event).text() == "op: `sleep 9` failed: timed out after 1s"


def test_the_next_step_names_the_log_only_when_it_is_not_the_default() -> None:
    assert next_step("abc", "./eventstate.db", {}) == "next: eventstate show abc"
    assert next_step("abc", "my log.db", {}) == "next: eventstate show abc --db 'my log.db'"
    # From EVENTSTATE_DB: the same shell finds it again.
    assert next_step("abc", "x.db", {"EVENTSTATE_DB": "x.db"}) == "next: eventstate show abc"
