"""What our State adds to pyinfra's, and how it refuses bad input."""

from __future__ import annotations

import pytest

from eventstate import (
    Config,
    EventstateError,
    Inventory,
    InventoryError,
    NoGroupError,
    NoHostError,
    OperationValueError,
    ReadOnlyViewError,
    RunStatus,
    StageError,
    State,
    StateNotInitialisedError,
    StateStage,
)
from eventstate.events import HostsFailed, OperationAdded, RunStarted
from eventstate.replay import read_events, rebuild


def _types(state: State) -> list[str]:
    state.flush()
    return [event.event_type for event in read_events(state.log, state.run_id)]


@pytest.fixture
def state() -> State:
    inventory = Inventory(
        (["web1", ("web2", {"port": 8080}), "db1"], {"env": "prod", "port": 80}),
        web=(["web1", "web2"], {"role": "web", "port": 81}),
        db=(["db1"], {"role": "db"}),
    )
    return State(inventory, Config(FAIL_PERCENT=50))


def test_the_run_starts_with_who_where_and_what(state: State) -> None:
    first = next(read_events(state.log, state.run_id))
    assert isinstance(first, RunStarted)
    assert first.seq == 1 and first.run_id == state.run_id
    assert first.hosts == ("web1", "web2", "db1")
    assert dict(first.groups) == {"web": ("web1", "web2"), "db": ("db1",)}
    assert first.config["FAIL_PERCENT"] == 50 and first.config["PARALLEL"] == state.config.PARALLEL
    assert first.user and first.machine and first.engine_version
    assert first.at.tzinfo is not None


def test_secrets_in_config_are_masked_in_the_log() -> None:
    state = State(Inventory((["a"], {})), Config(SUDO_PASSWORD="hunter2"))
    started = next(read_events(state.log, state.run_id))
    assert started.config["SUDO_PASSWORD"] == "***"  # type: ignore[attr-defined]
    assert "hunter2" not in next(state.log.read(state.run_id)).payload


def test_host_data_waterfall(state: State) -> None:
    web2, db1 = state.inventory.get_host("web2"), state.inventory.get_host("db1")
    assert web2.data["port"] == 8080  # host data beats group data
    assert state.inventory.get_host("web1").data["port"] == 81  # group beats inventory data
    assert db1.data["port"] == 80 and db1.data["env"] == "prod"
    assert web2.groups == ["web"] and web2.data.get("missing") is None
    with pytest.raises(KeyError, match="host db1 has no data 'nope'"):
        db1.data["nope"]


def test_inventory_lookups(state: State) -> None:
    inventory = state.inventory
    assert [h.name for h in inventory.get_group("web")] == ["web1", "web2"]
    assert inventory.get_host("nope", None) is None
    with pytest.raises(NoHostError, match=r"^No such host: nope$"):
        inventory.get_host("nope")
    with pytest.raises(NoGroupError, match=r"^No such group: nope$"):
        inventory.get_group("nope")
    assert len(inventory) == 3 and inventory.get_host("web1") in inventory


def test_a_name_only_a_group_lists_is_no_host_as_pyinfra() -> None:
    inventory = Inventory((["a"], {}), extra=(["z", ("a", {"port": 22})], {"role": "x"}))
    assert [h.name for h in inventory] == ["a"]
    assert inventory.get_host("z", None) is None and inventory.get_host_data("z") == {}
    assert inventory.get_group("extra") == [inventory.get_host("a")]
    assert inventory.get_host_data("a") == {"port": 22}  # a group's pair still gives data


@pytest.mark.parametrize(
    "bad", [None, "web1", (["web1"],), ([1], {})], ids=["none", "str", "short", "int-name"]
)
def test_a_malformed_inventory_is_a_clear_error(bad: object) -> None:
    with pytest.raises(InventoryError):
        Inventory(bad)  # type: ignore[arg-type]


def test_a_state_is_initialised_once(state: State) -> None:
    with pytest.raises(EventstateError, match="already initialised"):
        state.init(state.inventory, state.config)


def test_using_a_state_before_init_is_a_clear_error() -> None:
    state = State()
    with pytest.raises(StateNotInitialisedError, match=r"call State\.init first"):
        state.activate_host(object())  # type: ignore[arg-type]
    with pytest.raises(StateNotInitialisedError):
        _ = state.active_hosts
    assert state.current_stage is StateStage.Setup


def test_a_host_of_another_inventory_is_refused(state: State) -> None:
    stranger = Inventory((["web1"], {})).get_host("web1")
    with pytest.raises(InventoryError, match="not in this State's inventory"):
        state.activate_host(stranger)
    with pytest.raises(InventoryError):
        state.limit_hosts = ["nope"]  # type: ignore[list-item]


def test_any_iterable_of_hosts_is_a_limit(state: State) -> None:
    web1, _, db1 = state.inventory
    state.limit_hosts = (db1, web1)  # pyinfra would silently ignore a tuple
    assert [h.name for h in state.limit_hosts] == ["web1", "db1"]  # inventory order
    assert not state.is_host_in_limit(state.inventory.get_host("web2"))


def test_fail_hosts_takes_any_iterable_and_records_the_outcome(state: State) -> None:
    for host in state.inventory:
        state.activate_host(host)
    state.fail_hosts([state.inventory.get_host("db1")])  # a list: pyinfra raises TypeError
    state.flush()
    failed = [e for e in read_events(state.log, state.run_id) if isinstance(e, HostsFailed)]
    assert len(failed) == 1
    assert failed[0].hosts == ("db1",)
    assert failed[0].activated_count == 3
    assert failed[0].outcome.value == "continued"
    assert failed[0].percent_failed == pytest.approx(100 / 3)


def test_a_suppressed_fail_percent_is_recorded_as_such(state: State) -> None:
    state.should_raise_failed_hosts = lambda state: False
    for host in state.inventory:
        state.activate_host(host)
    state.fail_hosts([state.inventory.get_host("db1"), state.inventory.get_host("web1")])
    state.flush()
    last = list(read_events(state.log, state.run_id))[-1]
    assert isinstance(last, HostsFailed) and last.outcome.value == "fail_percent_suppressed"


def test_merging_an_op_with_a_different_execution_argument_fails(state: State) -> None:
    state.add_op_meta("h", (0,), names=["a"], global_arguments={"_serial": False})
    with pytest.raises(
        OperationValueError, match=r"^Cannot have different values for `_serial`\.$"
    ):
        state.add_op_meta("h", (0,), names=["b"], global_arguments={"_serial": True})
    assert list(state.get_op_meta("h").names) == ["a"]


def test_adding_nothing_new_to_an_op_records_nothing(state: State) -> None:
    state.add_op_meta("h", (0,), names=["a"], args=["x=1"])
    state.add_op_meta("h", (5,), names=["a"], args=["x=1"])
    state.add_op_meta("h", (5,), names=["b"])
    state.flush()
    added = [e for e in read_events(state.log, state.run_id) if isinstance(e, OperationAdded)]
    assert [(e.names, e.op_order) for e in added] == [(("a",), (0,)), (("b",), (0,))]
    assert state.get_op_meta("h").op_order == (0,)


def test_an_op_must_exist_before_a_host_gets_it(state: State) -> None:
    with pytest.raises(EventstateError, match="has no meta"):
        state.add_op_to_host(state.inventory.get_host("web1"), "nope", True)


def test_the_same_stage_again_records_nothing(state: State) -> None:
    state.set_stage(StateStage.Connect)
    state.set_stage(StateStage.Connect)
    state.set_stage(2)
    assert _types(state).count("StageChanged") == 1


def test_assigning_the_stage_is_set_stage_recorded_and_never_backwards(state: State) -> None:
    # pyinfra's API scripts (and its tests) assign the stage.
    state.current_stage = StateStage.Prepare
    assert state.current_stage is StateStage.Prepare
    assert _types(state).count("StageChanged") == 1
    assert rebuild(state.log, state.run_id).current_stage is StateStage.Prepare
    with pytest.raises(StageError, match="cannot go backwards"):
        state.current_stage = StateStage.Connect
    assert state.current_stage is StateStage.Prepare


def test_a_stage_without_warnings_reads_zero_and_stays_read_only(state: State) -> None:
    # pyinfra's stage_warnings is a defaultdict(int): a stage with no warnings reads 0.
    assert state.stage_warnings[StateStage.Execute] == 0
    state.set_stage(StateStage.Connect)
    state.increment_warning_counter()
    assert state.stage_warnings[StateStage.Connect] == 1
    assert state.stage_warnings[StateStage.Prepare] == 0
    # Reading adds nothing: only stages that warned are in it.
    assert dict(state.stage_warnings) == {StateStage.Connect: 1}
    assert StateStage.Prepare not in state.stage_warnings
    assert state.stage_warnings.get(StateStage.Prepare) is None
    with pytest.raises(KeyError):
        state.stage_warnings["Connect"]  # type: ignore[index]
    with pytest.raises(ReadOnlyViewError):
        state.stage_warnings[StateStage.Prepare] = 1  # type: ignore[index]
    assert rebuild(state.log, state.run_id).stage_warnings[StateStage.Disconnect] == 0


def test_a_with_block_finishes_the_run(state: State) -> None:
    with state:
        state.activate_host(state.inventory.get_host("web1"))
    assert state.view.run.status is RunStatus.SUCCESS
    assert _types(state)[-1] == "RunFinished"


def test_an_error_in_a_with_block_aborts_the_run_and_propagates(state: State) -> None:
    with pytest.raises(RuntimeError, match="boom"), state:
        raise RuntimeError("boom")
    assert state.view.run.status is RunStatus.ABORTED
    assert state.view.run.error == "RuntimeError: boom"


def test_is_executing_is_recorded_once(state: State) -> None:
    state.is_executing = True
    state.is_executing = True
    assert _types(state).count("ExecutionStarted") == 1


def test_views_of_one_state_are_live(state: State) -> None:
    active = state.active_hosts
    web1 = state.inventory.get_host("web1")
    state.activate_host(web1)
    assert web1 in active and "web1" in active
    assert active == {web1}
    assert active - {web1} == set()
