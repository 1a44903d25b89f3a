"""A secret is never text (str(), f-strings, ``+``): it reaches the host and nothing else."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventstate import HiddenValue, QuoteString, Secret, StringCommand
from eventstate.commands import make_command, make_formatted_string_command, revealed
from eventstate.connectors.base import CommandOptions, command_stdin, shell_argv, shown_privilege


def test_a_secret_renders_as_its_mask_only() -> None:
    secret = Secret("hunter22")
    assert str(secret) == "***"
    assert f"{secret}" == "***" and f"{secret:>5}" == "  ***"
    assert "x" + secret == "x***" and secret + "y" == "***y"
    assert "{}".format(secret) == "***"  # noqa: UP032 - format() is what is tested
    assert repr(secret) == "Secret('***')" and "hunter22" not in repr([secret, {"k": secret}])
    assert isinstance(secret.strip(), Secret) and Secret("  pw  ").strip().unmask() == "pw"
    assert secret.unmask() == "hunter22" and revealed(secret) == "hunter22"
    assert bool(Secret("")) is False and bool(secret) is True
    assert copy.deepcopy(secret).unmask() == "hunter22"


def test_pyinfras_hidden_value_masks_as_pyinfra() -> None:
    value = HiddenValue("top secret")
    assert str(value) == "*MASKED*" and repr(value) == "'*MASKED*'"
    assert value.unmask() == "top secret"
    assert str(HiddenValue("x", masked_value="FAKE")) == "FAKE"


def test_commands_run_with_the_value_and_show_the_mask() -> None:
    command = StringCommand("curl", "-H", QuoteString(StringCommand("token:", Secret("t0k3n"))))
    assert command.raw() == "curl -H 'token: t0k3n'"
    assert command.masked() == "curl -H 'token: ***'"
    assert command.secrets() == ["t0k3n"]
    joined = StringCommand("a", HiddenValue("b"), _separator="=")
    assert (joined.get_raw_value(), joined.get_masked_value()) == ("a=b", "a=*MASKED*")
    whole = make_command(Secret("  curl https://x/?key=k3y  "))
    assert (whole.raw(), whole.masked()) == ("curl https://x/?key=k3y", "***")
    formatted = make_formatted_string_command("mysql -p{0} {1}", Secret("pw99"), QuoteString("a b"))
    assert formatted.raw() == "mysql -ppw99 'a b'" and formatted.masked() == "mysql -p*** 'a b'"
    # An f-string is text made before the command exists: the mask, never the value.
    assert StringCommand(f"echo {Secret('pw42')}").raw() == "echo ***"


def test_privilege_arguments_reach_the_argv_and_input() -> None:
    options = CommandOptions(
        sudo=True,
        sudo_password=Secret("sudo-pw"),
        su_user="app",
        su_password=Secret("su-pw"),
        dzdo=True,
        dzdo_user="ops",
        env={"TOKEN": Secret("env-pw")},
    )
    argv = shell_argv("id", options)
    assert not any(pw in " ".join(argv) for pw in ("sudo-pw", "su-pw"))
    assert "dzdo -H -n -u ops" in " ".join(argv) and "TOKEN=env-pw" in argv[-1]
    # sudo reads its line first, then su.
    assert command_stdin(options) == b"sudo-pw\nsu-pw\n"
    assert shown_privilege(options) == "dzdo -u ops sudo su app"


SECRETS = ("fstring-secret-9f3a", "env-secret-71c2", "sudo-secret-5d0e", "part-secret-33ab")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventstate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EVENTSTATE_DB": str(cwd / "events.db")},
    )


def test_planted_secrets_reach_the_host_and_no_byte_written(tmp_path: Path) -> None:
    out = tmp_path / "host"
    out.mkdir()
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate import Secret, StringCommand\n"
        "from eventstate.operations import server\n"
        f"token = Secret({SECRETS[0]!r})\n"
        "server.shell(f'echo {token}')\n"
        f"env_secret = Secret({SECRETS[1]!r})\n"
        "server.shell(\n"
        f'    \'printf %s "$API_TOKEN" > {out}/env.txt; echo "token=$API_TOKEN" >&2\',\n'
        "    _env={'API_TOKEN': env_secret},\n"
        ")\n"
        f"server.shell('echo sudo-ran', _sudo=True, _sudo_password=Secret({SECRETS[2]!r}))\n"
        f"server.shell(StringCommand('echo', Secret({SECRETS[3]!r}), '>', '{out}/part.txt'))\n"
    )
    ran = _cli("deploy", "@local", str(deploy), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # The host got the values it was meant to get.
    assert (out / "env.txt").read_text() == SECRETS[1]
    assert (out / "part.txt").read_text() == SECRETS[3] + "\n"

    written = [ran.stdout, ran.stderr]
    (run_id,) = [line.split()[0] for line in _cli("runs", cwd=tmp_path).stdout.splitlines()[1:]]
    for args in (("events", run_id, "--json"), ("show", run_id), ("events", run_id)):
        shown = _cli(*args, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        written += [shown.stdout, shown.stderr]
    assert "sudo-ran" in written[2] and "token=***" in written[2]
    assert "echo ***" in written[2]
    exported = _cli("export", run_id, "-o", str(tmp_path / "run.jsonl"), cwd=tmp_path)
    timeline = _cli("timeline", run_id, "--html", str(tmp_path / "run.html"), cwd=tmp_path)
    assert exported.returncode == 0 and timeline.returncode == 0, exported.stderr + timeline.stderr
    assert _cli("report", run_id, "--html", "report.html", cwd=tmp_path).returncode == 0
    files = sorted(
        path for path in tmp_path.iterdir() if path.is_file() and path.name != "deploy.py"
    )
    assert {path.name for path in files} >= {"events.db", "run.jsonl", "run.html", "report.html"}
    blobs = [path.read_bytes() for path in files] + [text.encode() for text in written]
    for secret in SECRETS:
        for blob in blobs:
            assert secret.encode() not in blob, secret


@pytest.mark.parametrize("mode", ["str", "fstring", "add"])
def test_text_made_from_a_secret_is_masked_text(mode: str) -> None:
    secret = Secret("abc123")
    text = {"str": str(secret), "fstring": f"{secret}", "add": "" + secret}[mode]
    assert text == "***"


MORE = {
    "whole": "whole-command-secret-1a2b",
    "line": "files-line-secret-3c4d",
    "literal": "literal-in-deploy-5e6f",
    "inventory": "inventory-ssh-pw-7a8b",
    "token": "inventory-token-9c0d",
    "su": "su-password-secret-1e2f",
    "hostdata": "host-data-secret-3a4b",
    "stderr": "stderr-echo-secret-5c6d",
    "fact": "fact-command-secret-7e8f",
    "config": "config-sudo-secret-9a0b",
}


def test_secrets_planted_every_other_way_reach_no_byte_written(tmp_path: Path) -> None:
    out = tmp_path / "host"
    out.mkdir()
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        "from eventstate import Secret\n"
        "hosts = [\n"
        f"    ('@local', {{'ssh_password': {MORE['inventory']!r}, 'api_token': {MORE['token']!r},\n"
        f"                'app_secret': Secret({MORE['hostdata']!r})}}),\n"
        "]\n"
    )
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate import Secret\n"
        "from eventstate.context import host\n"
        "from eventstate.facts.server import Command\n"
        "from eventstate.operations import files, server\n"
        f"server.shell(Secret('echo {MORE['whole']} > {out}/whole.txt'))\n"
        f"files.file('{out}/line.txt')\n"
        f"files.line('{out}/line.txt', Secret({MORE['line']!r}))\n"
        f"db_password = {MORE['literal']!r}\n"
        "server.shell('true', _env={'DB': Secret(db_password)})\n"
        f"server.shell('id -un', _su_user='root', _su_password=Secret({MORE['su']!r}))\n"
        "server.shell('echo \"$APP\" >&2', _env={'APP': host.data.app_secret})\n"
        f"server.shell(Secret('echo {MORE['stderr']} >&2; exit 1'), _ignore_errors=True)\n"
        f"host.get_fact(Command, command=Secret('echo {MORE['fact']}'))\n"
    )
    ran = _cli("deploy", str(inventory), str(deploy), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (out / "whole.txt").read_text() == MORE["whole"] + "\n"  # the host got it
    assert (out / "line.txt").read_text() == MORE["line"] + "\n"
    written = [ran.stdout, ran.stderr]
    (run_id,) = [line.split()[0] for line in _cli("runs", cwd=tmp_path).stdout.splitlines()[1:]]
    for args in (("events", run_id, "--json"), ("show", run_id), ("events", run_id)):
        shown = _cli(*args, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        written += [shown.stdout, shown.stderr]
    assert _cli("export", run_id, "-o", "run.jsonl", cwd=tmp_path).returncode == 0
    assert _cli("timeline", run_id, "--html", "run.html", cwd=tmp_path).returncode == 0
    assert _cli("report", run_id, "--html", "report.html", cwd=tmp_path).returncode == 0
    blobs = [
        path.read_bytes()
        for path in tmp_path.iterdir()
        if path.suffix in (".db", ".jsonl", ".html")
    ]
    blobs += [text.encode() for text in written]
    assert len(blobs) >= 10
    leaked = sorted(
        name
        for name, secret in MORE.items()
        if name != "config" and any(secret.encode() in blob for blob in blobs)
    )
    assert leaked == []


def test_a_configs_secret_settings_are_masked_in_the_run(tmp_path: Path) -> None:
    from eventstate import Config, Inventory, State
    from eventstate.replay import read_events

    state = State(Inventory((["@sim/a"], {})), Config(SUDO_PASSWORD=MORE["config"]), log=None)
    state.finish()
    for event in read_events(state.log, state.run_id):
        assert MORE["config"] not in repr(event)


def test_secrets_on_the_command_line_reach_no_byte_written(tmp_path: Path) -> None:
    # --data values (they may be secrets) and a password in a store URL are typed on the
    # command line, which a run records: neither may reach the log or any reader's output.
    data_secret, inventory_secret = "cli-data-secret-4d5e", "debug-inventory-pw-6f7a"
    out = tmp_path / "seen.txt"
    (tmp_path / "inventory.py").write_text(
        f"hosts = [('@local', {{'ssh_password': {inventory_secret!r}}})]\n"
    )
    (tmp_path / "deploy.py").write_text(
        "from eventstate.context import host\n"
        "from eventstate.operations import server\n"
        "from eventstate import Secret\n"
        f"server.shell(Secret('echo ' + host.data.db_password + ' > {out}'))\n"
    )
    given = ("--data", f"db_password={data_secret}")
    ran = _cli("deploy", "inventory.py", "deploy.py", *given, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert out.read_text() == data_secret + "\n"  # the host got the value
    debug = _cli("deploy", "inventory.py", "--debug-inventory", *given, cwd=tmp_path)
    assert debug.returncode == 0 and '"ssh_password": "***"' in debug.stdout, debug.stdout
    written = [ran.stdout, ran.stderr, debug.stdout, debug.stderr]
    for args in (("runs",), ("runs", "--json"), ("show", "latest"), ("events", "latest", "--json")):
        shown = _cli(*args, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        written += [shown.stdout, shown.stderr]
    assert "db_password=***" in _cli("runs", "--json", cwd=tmp_path).stdout
    assert _cli("report", "latest", "--html", "report.html", cwd=tmp_path).returncode == 0
    blobs = [(tmp_path / name).read_bytes() for name in ("events.db", "report.html")]
    blobs += [text.encode() for text in written]
    for secret in (data_secret, inventory_secret):
        assert not any(secret.encode() in blob for blob in blobs), secret


def test_a_password_in_a_store_url_is_never_recorded_nor_printed() -> None:
    from eventstate.cli.failure_lines import next_step
    from eventstate.redaction import redact_command_line
    from eventstate.stores import shown_url

    url = "postgresql://deployer:hun/ter@2@db.example/audit"
    assert shown_url(url) == "postgresql://***@db.example/audit"
    assert (
        next_step("abc", url, {})
        == "next: eventstate show abc --db 'postgresql://***@db.example/audit'"
    )
    recorded = redact_command_line(
        ["eventstate", "deploy", "i.py", "d.py", "--db", url, "--data=k=v"]
    )
    assert recorded[-2:] == ("postgresql://***@db.example/audit", "--data=k=***")
    assert redact_command_line(["eventstate", "facts", "@local", "x.Y", "api_token=t", "path=/p"])[
        -2:
    ] == ("api_token=***", "path=/p")


@pytest.mark.parametrize(
    "password", ["pa%zz-secret-8b9c", "pa/ss-secret-0d1e", "s3cr%40t-secret-2f3a"]
)
def test_a_store_urls_password_never_reaches_an_error(password: str) -> None:
    from urllib.parse import unquote

    from eventstate.errors import StoreError
    from eventstate.stores import open_log

    with pytest.raises(StoreError) as raised:  # nothing listens on port 1
        open_log(f"postgresql://deployer:{password}@127.0.0.1:1/audit")
    said = str(raised.value)
    assert "\n" not in said and "cannot connect" in said
    assert password not in said and unquote(password) not in said, said
