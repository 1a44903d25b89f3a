"""The examples of the State's description (shared/seed/pyinfra-state.txt), as written.

Only the package names change: ``pyinfra.api`` becomes ``eventstate``, and
where the seed calls operations (a later issue), ops are added through the
State's own ``add_op_meta`` / ``add_op_to_host``, which ``add_op`` will use.
"""

from __future__ import annotations

import os

import gevent
import pytest

from eventstate import (
    MAX_PARALLEL,
    BaseStateCallback,
    Config,
    DeployError,
    Inventory,
    ReadOnlyViewError,
    State,
    StateStage,
)


@pytest.fixture
def state() -> State:
    inventory = Inventory(
        (["web1.example.com", "web2.example.com"], {}),
    )
    config = Config(
        PARALLEL=10,
        TIMEOUT=30,
    )
    state = State()
    state.init(inventory, config)
    return state


def test_state_initialisation(state: State) -> None:
    inventory, config = state.inventory, state.config
    assert state.initialised
    assert config.PARALLEL == 10 and config.TIMEOUT == 30
    assert state.pool.size == 10 and state.fact_pool.size == 10
    # A deliberate difference: no back-pointers from inventory, config or hosts to the
    # State (pyinfra sets ``inventory.state = config.state = host.state = self``).
    assert state.inventory is inventory
    assert not any(hasattr(thing, "state") for thing in (inventory, config, *inventory))
    assert state.callback_handlers == []
    assert set(state.activated_hosts) == set() == set(state.active_hosts) == set(state.failed_hosts)
    assert state.limit_hosts is None
    assert dict(state.op_meta) == {}
    assert [h.name for h in state.meta] == ["web1.example.com", "web2.example.com"]
    assert all(state.meta[h].ops == 0 for h in inventory)
    assert all(state.results[h].ops == 0 for h in inventory)
    assert state.ops == {host: {} for host in inventory}


def test_parallel_defaults_to_twenty_per_cpu_capped_by_hosts() -> None:
    state = State(Inventory((["a", "b", "c"], {})), Config())
    assert min((os.cpu_count() or 1) * 20, 3, MAX_PARALLEL) == state.config.PARALLEL


def test_the_callers_config_is_never_changed_nor_shared() -> None:
    # A deliberate difference: pyinfra writes PARALLEL into the caller's config.
    config = Config()
    state = State(Inventory((["a", "b"], {})), config)
    assert config.PARALLEL == 0 and state.config.PARALLEL == 2
    config.SUDO = True
    assert state.config.SUDO is False


def test_state_without_inventory_is_not_initialised() -> None:
    assert not State().initialised
    assert not State(Inventory.empty()).initialised


def test_stage_transitions(state: State) -> None:
    state.set_stage(StateStage.Setup)  # Initial stage
    state.set_stage(StateStage.Connect)  # Connect to hosts
    state.set_stage(StateStage.Prepare)  # Discover operations
    state.set_stage(StateStage.Execute)  # Execute operations
    state.set_stage(StateStage.Disconnect)  # Cleanup
    with pytest.raises(Exception, match="State stage cannot go backwards!"):
        state.set_stage(StateStage.Prepare)  # Can't go backwards!
    assert state.current_stage == StateStage.Disconnect


def _add_op(state: State, op_hash: str, name: str, args: list[str]) -> None:
    """What ``add_op`` records for an op on every host, in API mode."""
    for host in state.inventory:
        op_order = (len(host.op_hash_order),)
        state.add_op_meta(op_hash, op_order, names=[name], args=args)
        state.add_op_to_host(host, op_hash, is_change=True)


def test_operation_meta_and_host_meta(state: State) -> None:
    _add_op(state, "op-apt", "apt.packages", ["packages=['nginx']"])
    op_hash = "op-apt"

    op_meta = state.get_op_meta(op_hash)
    assert f"Operation: {', '.join(op_meta.names)}" == "Operation: apt.packages"
    assert op_meta.args == ["packages=['nginx']"]
    assert op_meta.op_order == (0,)

    host = state.inventory.get_host("web1.example.com")
    meta = state.get_meta_for_host(host)
    assert (meta.ops, meta.ops_change, meta.ops_no_change) == (1, 1, 0)
    assert set(meta.op_hashes) == {"op-apt"}

    results = state.get_results_for_host(host)
    assert f"Success: {results.success_ops}/{results.ops}" == "Success: 0/0"
    state.record_op_result(host, op_hash, "success", commands_executed=1)
    assert f"Success: {results.success_ops}/{results.ops}" == "Success: 1/1"
    assert (results.error_ops, results.ignored_error_ops) == (0, 0)


def test_op_data_for_host(state: State) -> None:
    host = state.inventory.get_host("web1.example.com")
    op_data = object()
    state.set_op_data_for_host(host, "op-x", op_data)
    assert state.get_op_data_for_host(host, "op-x") is op_data


def test_activating_and_failing_hosts(state: State) -> None:
    web1, web2 = state.inventory
    state.activate_host(web1)
    state.activate_host(web2)
    assert set(state.activated_hosts) == {web1, web2} == set(state.active_hosts)

    state.fail_hosts({web1})
    assert set(state.failed_hosts) == {web1}
    assert set(state.active_hosts) == {web2}
    assert set(state.activated_hosts) == {web1, web2}

    with pytest.raises(DeployError, match=r"^No hosts remaining!$"):
        state.fail_hosts({web2})


def test_fail_percent(state: State) -> None:
    state.config.FAIL_PERCENT = 40
    web1, _ = state.inventory
    for host in state.inventory:
        state.activate_host(host)
    with pytest.raises(DeployError, match=r"^Over 40% of hosts failed \(50%\)$"):
        state.fail_hosts({web1})


def test_failing_no_hosts_is_a_no_op(state: State) -> None:
    before = state.view.events_applied
    state.fail_hosts(set())
    assert state.view.events_applied == before


def test_limiting_hosts(state: State) -> None:
    inventory = state.inventory
    # Limit deployment to specific hosts
    web1 = inventory.get_host("web1.example.com")
    state.limit_hosts = [web1]
    # Check if host is in limit
    in_limit = [host.name for host in inventory if state.is_host_in_limit(host)]
    assert in_limit == ["web1.example.com"]
    state.limit_hosts = None
    assert all(state.is_host_in_limit(host) for host in inventory)


def test_operation_order_dag(state: State) -> None:
    # apt.update, then apt.packages, then server.service: a chain on every host.
    _add_op(state, "h-update", "apt.update", [])
    _add_op(state, "h-packages", "apt.packages", ["packages=['nginx']"])
    _add_op(state, "h-service", "server.service", ["service=nginx", "running=True"])
    assert state.get_op_order() == ["h-update", "h-packages", "h-service"]


def test_operation_order_cycle_is_a_deploy_error(state: State) -> None:
    web1, web2 = state.inventory
    state.add_op_meta("a", (0,), names=["a"])
    state.add_op_meta("b", (1,), names=["b"])
    state.add_op_to_host(web1, "a", True)
    state.add_op_to_host(web1, "b", True)
    state.add_op_to_host(web2, "b", True)
    state.add_op_to_host(web2, "a", True)
    with pytest.raises(DeployError, match=r"^Cycle detected in operation ordering DAG\.\n"):
        state.get_op_order()


def test_parallel_execution_on_the_pool(state: State) -> None:
    seen = []

    def run_on_host(host):  # type: ignore[no-untyped-def]
        gevent.sleep(0)
        seen.append(host.name)

    greenlets = [state.pool.spawn(run_on_host, host) for host in state.inventory]
    gevent.joinall(greenlets)
    assert sorted(seen) == ["web1.example.com", "web2.example.com"]


def test_callbacks(state: State) -> None:
    calls = []

    class MyCallbacks(BaseStateCallback):
        @staticmethod
        def host_connect(state, host):  # type: ignore[no-untyped-def]
            calls.append(f"Connected to {host.name}")

        @staticmethod
        def operation_host_success(state, host, op_hash, retry_count=0):  # type: ignore[no-untyped-def]
            op_meta = state.get_op_meta(op_hash)
            calls.append(f"[{host.name}] Success: {', '.join(op_meta.names)}")

        @staticmethod
        def operation_host_error(state, host, op_hash, retry_count=0):  # type: ignore[no-untyped-def]
            op_meta = state.get_op_meta(op_hash)
            calls.append(f"[{host.name}] Error: {', '.join(op_meta.names)}")

    state.add_callback_handler(MyCallbacks())
    _add_op(state, "op-1", "server.shell", [])
    host = state.inventory.get_host("web1.example.com")
    state.trigger_callbacks("host_connect", host)
    state.trigger_callbacks("operation_host_success", host, "op-1")
    state.trigger_callbacks("operation_host_error", host, "op-1", retry_count=1)
    assert calls == [
        "Connected to web1.example.com",
        "[web1.example.com] Success: server.shell",
        "[web1.example.com] Error: server.shell",
    ]


def test_callback_handlers_run_in_order_and_must_be_callbacks(state: State) -> None:
    order = []

    class First(BaseStateCallback):
        @staticmethod
        def operation_start(state, op_hash):  # type: ignore[no-untyped-def]
            order.append(("first", op_hash))

    class Second(BaseStateCallback):
        @staticmethod
        def operation_start(state, op_hash):  # type: ignore[no-untyped-def]
            order.append(("second", op_hash))

    state.add_callback_handler(First())
    state.add_callback_handler(Second())
    state.trigger_callbacks("operation_start", "h")
    assert order == [("first", "h"), ("second", "h")]

    with pytest.raises(TypeError, match="is not a valid callback handler"):
        state.add_callback_handler(object())  # type: ignore[arg-type]


def test_warning_tracking(state: State) -> None:
    # Increment warning count
    state.increment_warning_counter()
    # Get warnings for current stage
    warnings = state.get_warning_counter()
    assert f"Warnings in {state.current_stage}: {warnings}" == f"Warnings in {StateStage.Setup}: 1"
    state.set_stage(StateStage.Prepare)
    assert state.get_warning_counter() == 0
    assert dict(state.stage_warnings) == {StateStage.Setup: 1}


def test_warnings_belong_to_their_run() -> None:
    first = State(Inventory((["a"], {})))
    first.increment_warning_counter()
    second = State(Inventory((["a"], {})))
    assert second.get_warning_counter() == 0  # pyinfra shares the counter between States


def test_configuration(state: State) -> None:
    assert (state.config.PARALLEL, state.config.TIMEOUT, state.config.FAIL_PERCENT) == (
        10,
        30,
        None,
    )
    state.config.TIMEOUT = 60
    state.config.PARALLEL = 20
    assert (state.config.TIMEOUT, state.config.PARALLEL) == (60, 20)
    assert state.config.copy().TIMEOUT == 60


def test_print_flags(state: State) -> None:
    assert not any(
        getattr(state, flag)
        for flag in (
            "print_noop_info",
            "print_fact_info",
            "print_input",
            "print_fact_input",
            "print_output",
            "print_fact_output",
        )
    )
    state.print_input = True
    state.print_output = True
    state.print_fact_info = True
    assert state.print_input and state.print_output and state.print_fact_info
    state.print_output = False
    assert not state.print_output


def test_dry_run_shows_changes(state: State) -> None:
    state.check_for_changes = True
    state.set_stage(StateStage.Prepare)
    assert state.should_check_for_changes()
    _add_op(state, "op-1", "files.file", [])
    for host in state.inventory:
        meta = state.get_meta_for_host(host)
        assert f"{host.name}: {meta.ops_change} operations will change" == (
            f"{host.name}: 1 operations will change"
        )


def test_is_executing_turns_on_once(state: State) -> None:
    assert not state.is_executing
    state.is_executing = True
    assert state.is_executing
    with pytest.raises(ReadOnlyViewError):
        state.is_executing = False


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.active_hosts.add(s.inventory.get_host("web1.example.com")),
        lambda s: s.failed_hosts.update([]),
        lambda s: s.activated_hosts.clear(),
        lambda s: s.meta.pop(s.inventory.get_host("web1.example.com")),
        lambda s: s.results.__setitem__("web1.example.com", None),
        lambda s: setattr(s.get_meta_for_host(s.inventory.get_host("web1.example.com")), "ops", 5),
        lambda s: setattr(
            s.get_results_for_host(s.inventory.get_host("web1.example.com")), "error_ops", 1
        ),
        lambda s: s.stage_warnings.__setitem__(StateStage.Setup, 3),
        lambda s: s.op_meta.clear(),
        lambda s: setattr(s, "active_hosts", set()),
        lambda s: setattr(s, "meta", {}),
    ],
)
def test_views_are_read_only(state: State, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReadOnlyViewError, match="is read-only: views of a deploy change only"):
        mutate(state)


def test_op_meta_views_are_read_only(state: State) -> None:
    _add_op(state, "op-1", "files.file", ["path=/etc/x"])
    meta = state.get_op_meta("op-1")
    with pytest.raises(ReadOnlyViewError):
        meta.names.add("other")
    with pytest.raises(ReadOnlyViewError):
        meta.args.append("x")
    with pytest.raises(ReadOnlyViewError):
        meta.op_order = (3,)
    host = state.inventory.get_host("web1.example.com")
    with pytest.raises(ReadOnlyViewError):
        host.op_hash_order.append("op-2")  # type: ignore[union-attr]
    with pytest.raises(ReadOnlyViewError):
        state.limit_hosts = [host]
        state.limit_hosts.append(host)  # type: ignore[union-attr]
