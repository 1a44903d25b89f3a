"""A run's connections, and the library calls the CLI stands on (limits, listings, URLs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.connections import HostConnections
from eventstate.connectors.base import CommandOptions, CommandResult, Connector
from eventstate.connectors.sim import SimConnector
from eventstate.deploy import hosts_in_limit
from eventstate.errors import ConnectError, ConnectorNotFoundError, InventoryError
from eventstate.replay import read_log
from eventstate.stores import open_log, shown_url


def test_a_connector_is_made_once_from_the_hosts_name_data_and_arg() -> None:
    inventory = Inventory(([("@sim/web1", {"sim_seed": 7})], {}))
    connections = HostConnections(inventory, connect_timeout=3)
    host = inventory.get_host("@sim/web1")
    connector = connections.connector(host)
    assert isinstance(connector, SimConnector)
    assert (connector.host_name, connector.arg, connector.seed) == ("@sim/web1", "web1", 7)
    assert connector.connect_timeout == 3
    assert connections.connector(host) is connector
    assert not host.connected
    connections.connect(host)
    assert host.connected
    connections.disconnect(host)
    assert not host.connected


def test_unknown_connectors_are_found_before_anything_runs() -> None:
    inventory = Inventory((["@sim/a", "@nope/b"], {}))  # plain data: no lookup yet
    with pytest.raises(ConnectorNotFoundError, match="no connector called 'nope'"):
        HostConnections(inventory)
    with pytest.raises(InventoryError):
        State(inventory)


class _Given(Connector):
    name = "given"

    def connect(self) -> None:
        pass

    def run_shell_command(self, command: object, options: CommandOptions) -> CommandResult:
        return CommandResult(True, 0, "given\n")

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        return CommandResult(True, 0)


def test_connectors_given_are_used_whatever_the_names_ask_for() -> None:
    # How a rerun plays a run back: @nope is installed nowhere, and need not be.
    inventory = Inventory((["@nope/a"], {}))
    given = _Given("@nope/a", {}, None)
    connections = HostConnections(inventory, connectors={"@nope/a": given})
    state = State(inventory, Config(), connections=connections)
    assert state.connections.connect(inventory.get_host("@nope/a")) is given


def test_a_plugin_of_another_signature_is_a_connect_error() -> None:
    class OldStyle(_Given):
        def __init__(self, host: object, arg: str | None) -> None:  # the old (host, arg)
            super().__init__("x", {}, arg)

    inventory = Inventory((["@sim/a"], {}))
    connections = HostConnections(inventory)
    connections._classes["@sim/a"] = OldStyle
    with pytest.raises(ConnectError, match="cannot be made for @sim/a"):
        connections.connect(inventory.get_host("@sim/a"))


def test_hosts_in_limit_takes_hosts_and_groups() -> None:
    inventory = Inventory((["a", "b", "c"], {}), web=(["b", "c"], {}))
    assert hosts_in_limit(inventory, None) is None
    assert [h.name for h in hosts_in_limit(inventory, "web, a") or []] == [
        "a",
        "b",
        "c",
    ]  # inventory order (pyinfra: a set)
    with pytest.raises(InventoryError, match="no host or group called 'nope'"):
        hosts_in_limit(inventory, "a,nope")


def test_a_listing_reports_an_unreadable_run_and_lists_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    for _ in range(2):
        with open_log(db) as log, State(Inventory((["@sim/a"], {})), log=log) as state:
            state.finish()
    import sqlite3

    with sqlite3.connect(db) as raw:  # one run's first event, made unreadable
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET payload = '{' WHERE seq = 1 AND rowid = 1")
        damaged = raw.execute("SELECT run_id FROM events WHERE rowid = 1").fetchone()[0]
    with read_log(db) as log:
        # Listed from the overview its deploy stored: the listing reads no event (verify
        # reads them all).
        assert len(log.listing().infos) == 2
    with sqlite3.connect(db) as raw:  # without it (an older log), the run is read, and fails
        raw.execute("DELETE FROM snapshots WHERE run_id = ?", [damaged])
    with read_log(db) as log:
        listing = log.listing()
        assert len(listing.infos) == 1 and len(listing.unreadable) == 1
        assert listing.infos[0].run_id != listing.unreadable[0][0]
        assert log.listing(status="failed").infos == []


def test_a_url_is_shown_without_its_credentials() -> None:
    assert shown_url("postgresql://deploy:s3cret@db/audit") == "postgresql://***@db/audit"
    assert shown_url("sqlite:///runs/x.db") == "sqlite:///runs/x.db"
    assert shown_url(Path("runs/x.db")) == "runs/x.db"
