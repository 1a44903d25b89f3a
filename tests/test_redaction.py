"""What a run records of its own code keeps no secret in clear."""

from __future__ import annotations

from pathlib import Path

from eventstate import Config, State
from eventstate.deploy import record_deploy
from eventstate.events import DeployLoaded
from eventstate.redaction import is_secret_name, redact_source, secret_values
from eventstate.replay import read_events


def test_secret_names() -> None:
    for name in (
        "ssh_password",
        "ssh_key_password",
        "_sudo_password",
        "API_TOKEN",
        "db_secret",
        "api_key",
        "AWS_SECRET_ACCESS_KEY",
        "stripe_key",
    ):
        assert is_secret_name(name), name
    for name in ("ssh_key", "ssh_user", "ssh_hostname", "sim_seed", "tls_key_file", "key_path"):
        assert not is_secret_name(name), name


def test_literals_given_to_secret_names_are_masked_everywhere() -> None:
    source = (
        "hosts = [('web1', {'ssh_password': 'hunter22', 'ssh_user': 'deploy'})]\n"
        "server.shell('id', _sudo_password='s3cr3t-pw')\n"
        "API_TOKEN = 'tok-123456'\n"
        "note = 'the password hunter22 again'\n"
        "short = {'password': 'abc'}\n"  # too short to mask safely, and harmless to keep
        "token = Secret('a-secret-value')\n"
        "DB_PASSWD = 'db-passwd-1'\n"
        "host.data.ssh_password = 'attr-pw-1'\n"
    )
    redacted = redact_source(source, known={"from-host-data"})
    for secret in ("hunter22", "s3cr3t-pw", "tok-123456", "a-secret-value", "db-passwd-1"):
        assert secret not in redacted
    assert "attr-pw-1" not in redacted
    assert redacted.count("***") == 7
    assert "'deploy'" in redacted and "'abc'" in redacted
    assert redact_source("x = 'from-host-data'\n", {"from-host-data"}) == "x = '***'\n"
    assert redact_source("not python (", {"zzzz"}) == "not python ("


def test_secret_values_of_data() -> None:
    data = {"ssh_password": "hunter22", "ssh_key": "/k", "token": 5, "api_token": "***"}
    assert secret_values(data) == {"hunter22"}


def test_a_recorded_deploy_holds_its_files_redacted(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text("hosts = [('@sim/a', {'db_password': 'inventory-pw'})]\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import server\n"
        "server.shell('id', _sudo=True, _sudo_password='deploy-pw')\n"
    )
    from eventstate.deploy import load_inventory

    state = State(load_inventory(str(inventory)), Config(SUDO_PASSWORD="config-pw"))
    record_deploy(state, str(inventory), str(deploy), {})
    state.finish()
    (loaded,) = [e for e in read_events(state.log, state.run_id) if isinstance(e, DeployLoaded)]
    assert "inventory-pw" not in (loaded.inventory_source or "")
    assert "deploy-pw" not in loaded.deploy_source
    assert "_sudo_password='***'" in loaded.deploy_source
    for stored in state.log.read(state.run_id):
        for secret in ("inventory-pw", "deploy-pw", "config-pw"):
            assert secret not in stored.payload
