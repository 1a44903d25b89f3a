"""pyinfra's flags on ``eventstate deploy``, where they mean the same: -y, --limit globs,
--data, --sudo/--sudo-user/--su-user, --retry/--retry-delay, --debug-inventory, --dry's plan."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from eventstate.cli import main
from eventstate.cli.deploy import override_data
from eventstate.errors import UsageError
from eventstate.stores import SqliteEventLog

INVENTORY = """\
web = ["@sim/web1", "@sim/web2"]
db = ["@sim/db1"]
data = {"greeting": "hello"}
"""

DEPLOY = """\
from eventstate.context import current
from eventstate.operations import files, server

state, host = current()
server.shell(f"echo {host.data.greeting} {host.data.get('count')}")
files.directory("/srv/app")
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVENTSTATE_DB", raising=False)
    (tmp_path / "inventory.py").write_text(INVENTORY)
    (tmp_path / "deploy.py").write_text(DEPLOY)
    return CliRunner()


def _deploy(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, ["deploy", *args, "--db", "e.db"], catch_exceptions=False)


def _events(tmp_path: Path) -> list[dict[str, object]]:
    with SqliteEventLog(tmp_path / "e.db", create=False) as log:
        (run,) = log.runs()
        return [
            {"type": stored.type, **orjson.loads(stored.payload)} for stored in log.read(run.run_id)
        ]


def _ran(tmp_path: Path) -> list[tuple[object, object]]:
    # An op's commands: in its outcome (HostOperationFinished version 2).
    return [
        (event["host"], command["command"])
        for event in _events(tmp_path)
        if event["type"] == "HostOperationFinished"
        for command in event["commands"]  # type: ignore[attr-defined]
        if command["fact"] is None
    ]


def test_yes_is_accepted_and_skips_change_detection_as_pyinfra(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _deploy(runner, "inventory.py", "deploy.py", "-y")
    assert result.exit_code == 0, result.output
    assert "changes not checked" in result.stdout
    # Each host's change flag: in the OperationAdded that added the op for it.
    flags = {
        flag
        for event in _events(tmp_path)
        if event["type"] == "OperationAdded"
        for flag in event["is_change"]  # type: ignore[attr-defined]
    }
    assert flags == {None}
    assert len(_ran(tmp_path)) == 6  # and every op ran
    assert _deploy(runner, "inventory.py", "deploy.py", "--yes").exit_code == 0


@pytest.mark.parametrize(
    ("limit", "hosts"),
    [
        (["@sim/web*"], {"@sim/web1", "@sim/web2"}),  # a glob of host names
        (["*1"], {"@sim/web1", "@sim/db1"}),
        (["db"], {"@sim/db1"}),  # a group
        (["db", "@sim/web2"], {"@sim/db1", "@sim/web2"}),  # repeated
        (["db,@sim/web?"], {"@sim/db1", "@sim/web1", "@sim/web2"}),  # comma-separated
    ],
)
def test_limit_takes_globs_groups_and_names(
    runner: CliRunner, tmp_path: Path, limit: list[str], hosts: set[str]
) -> None:
    args = [arg for pattern in limit for arg in ("--limit", pattern)]
    result = _deploy(runner, "inventory.py", "deploy.py", *args)
    assert result.exit_code == 0, result.output
    assert {host for host, _ in _ran(tmp_path)} == hosts


def test_a_limit_glob_that_matches_nothing_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = _deploy(runner, "inventory.py", "deploy.py", "--limit", "nope*")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: --limit: no host matches 'nope*' in the inventory"
    assert not (tmp_path / "e.db").exists()


def test_data_overrides_every_hosts_data(runner: CliRunner, tmp_path: Path) -> None:
    result = _deploy(
        runner, "inventory.py", "deploy.py", "--data", "greeting=hi", "--data", "count=3"
    )
    assert result.exit_code == 0, result.output
    commands = {command for _, command in _ran(tmp_path)}
    assert "echo hi 3" in commands
    (loaded,) = [event for event in _events(tmp_path) if event["type"] == "DeployLoaded"]
    assert loaded["options"]["data"] == ["count", "greeting"]  # type: ignore[index]


def test_data_values_are_parsed_as_pyinfra_parses_them() -> None:
    assert override_data(["a=true", "b=False", "c=3", "d=[1, 2]", "e=text", "f=x=y", "g="]) == {
        "a": True,
        "b": False,
        "c": 3,
        "d": [1, 2],
        "e": "text",
        "f": "x=y",
        "g": "",
    }
    with pytest.raises(UsageError, match="--data takes KEY=VALUE, not 'nokey'"):
        override_data(["nokey"])


def test_sudo_flags_become_the_runs_settings(runner: CliRunner, tmp_path: Path) -> None:
    result = _deploy(
        runner, "inventory.py", "deploy.py", "--sudo", "--sudo-user", "app", "--limit", "db"
    )
    assert result.exit_code == 0, result.output
    assert ("@sim/db1", "sudo -u app mkdir -p /srv/app") in _ran(tmp_path)
    (started,) = [event for event in _events(tmp_path) if event["type"] == "RunStarted"]
    config = started["config"]
    assert config["SUDO"] is True and config["SUDO_USER"] == "app"  # type: ignore[index]


def test_su_user_and_a_sudo_user_without_sudo(runner: CliRunner, tmp_path: Path) -> None:
    result = _deploy(runner, "inventory.py", "deploy.py", "--su-user", "bob", "--limit", "db")
    assert result.exit_code == 0, result.output
    assert ("@sim/db1", "su bob mkdir -p /srv/app") in _ran(tmp_path)
    refused = _deploy(runner, "inventory.py", "deploy.py", "--sudo-user", "app")
    assert refused.exit_code == 2 and refused.output.strip() == "Error: --sudo-user needs --sudo"


def test_retry_and_retry_delay(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(
        "from eventstate.operations import server\nserver.shell('echo no >&2; exit 1')\n"
    )
    result = _deploy(runner, "@local", "fails.py", "--retry", "2", "--retry-delay", "0")
    assert result.exit_code == 1
    events = _events(tmp_path)
    assert [event["retry_num"] for event in events if event["type"] == "HostOperationRetried"] == [
        1,
        2,
    ]
    (started,) = [event for event in events if event["type"] == "RunStarted"]
    assert started["config"]["RETRY_DELAY"] == 0  # type: ignore[index]
    assert "[@local] failed: server.shell: `echo no >&2; exit 1` exit 1: no" in result.stderr


def test_debug_inventory_prints_hosts_groups_and_data_and_records_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        main,
        ["deploy", "inventory.py", "--debug-inventory", "--limit", "db", "--data", "count=3"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["[@sim/db1]", "--> Groups: db, inventory", "--> Data:"]
    assert orjson.loads("\n".join(lines[3:])) == {"count": 3, "greeting": "hello"}
    assert not (tmp_path / "e.db").exists() and not (tmp_path / "eventstate.db").exists()


def test_without_a_deploy_file_and_no_debug_inventory_it_is_missing(runner: CliRunner) -> None:
    result = runner.invoke(main, ["deploy", "inventory.py"])
    assert result.exit_code == 2 and "Missing argument 'DEPLOY.py'" in result.output


def test_dry_prints_the_plan_ops_by_hosts_with_their_commands(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = _deploy(runner, "inventory.py", "deploy.py", "--dry", "--limit", "@sim/web*")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("plan: 2 ops on 2 hosts, 4 host-ops (nothing run)")
    assert lines[start + 1 : start + 7] == [
        "op 1/2 server.shell echo hello None",
        "  [@sim/web1] echo hello None",
        "  [@sim/web2] echo hello None",
        "op 2/2 files.directory /srv/app",
        "  [@sim/web1] mkdir -p /srv/app",
        "  [@sim/web2] mkdir -p /srv/app",
    ]
    assert _ran(tmp_path) == []  # nothing ran
    (loaded,) = [event for event in _events(tmp_path) if event["type"] == "DeployLoaded"]
    assert loaded["options"]["dry"] is True  # type: ignore[index]


def test_the_plan_says_when_an_op_would_change_nothing(runner: CliRunner, tmp_path: Path) -> None:
    there = tmp_path / "there"
    there.mkdir()
    (tmp_path / "local.py").write_text(
        f"from eventstate.operations import files\nfiles.directory({str(there)!r})\n"
    )
    result = _deploy(runner, "@local", "local.py", "--dry")
    assert result.exit_code == 0, result.output
    assert "  [@local] (no change)" in result.stdout.splitlines()
