"""Simulated deploys: the outcome the FAIL_PERCENT rule predicts, and the log that reproduces it.

The prediction below is written from pyinfra 3.10's rules (the semantics page),
not from our engine: each command's outcome is the sim connector's documented
draw, a failed op fails its host after the op, and after each op the deploy
stops when no host is left or more than FAIL_PERCENT of the activated hosts
have failed.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstate import Config, DeployError, Inventory, MemoryEventLog, SqliteEventLog, State
from eventstate.connect import connect_all, disconnect_all
from eventstate.connectors.sim import sim_draw
from eventstate.execute import run_ops
from eventstate.operation import add_op
from eventstate.operations import server
from eventstate.replay import rebuild, verify_run


def _predict(
    names: list[str], ops: int, seed: int, fail_rate: float, connect_rate: float, fp: int | None
) -> tuple[str | None, set[str], dict[str, tuple[int, int]]]:
    """(abort message or None, failed hosts, host -> (success_ops, error_ops))."""
    counts = {name: (0, 0) for name in names}

    def over(active: int, activated: int) -> str | None:
        if not active:
            return "No hosts remaining!"
        if fp is not None and (1 - active / activated) * 100 > fp:
            return "Over"
        return None

    connected = [n for n in names if not sim_draw(seed, n, "connect") < connect_rate]
    failed = {n for n in names if n not in connected}
    if failed and (abort := over(len(connected), len(names))):
        return abort, failed, counts
    active = list(connected)
    for i in range(ops):
        now_failed = []
        for name in active:
            # One command per op: the sim's draw for this host's (i+1)-th command.
            ok = not sim_draw(seed, name, i + 1, f"step-{i}") < fail_rate
            success, errors = counts[name]
            counts[name] = (success + ok, errors + (not ok))
            if not ok:
                now_failed.append(name)
        if now_failed:
            failed.update(now_failed)
            active = [n for n in active if n not in now_failed]
            if abort := over(len(active), len(connected)):
                return abort, failed, counts
    return None, failed, counts


def _deploy(state: State, ops: int) -> str | None:
    try:
        connect_all(state)
        for i in range(ops):
            add_op(state, server.shell, f"step-{i}")
        run_ops(state)
    except DeployError as error:
        return str(error)
    finally:
        disconnect_all(state)
        state.finish()
    return None


@settings(max_examples=max(settings().max_examples * 3, 50), deadline=None)
@given(
    hosts=st.integers(1, 8),
    ops=st.integers(1, 6),
    seed=st.integers(0, 1000),
    fail_rate=st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]),
    connect_rate=st.sampled_from([0.0, 0.2]),
    # Percentages a fraction of a few hosts hits exactly test "strictly greater".
    fail_percent=st.one_of(st.none(), st.sampled_from([0, 25, 50, 75, 100]), st.integers(0, 100)),
)
def test_the_outcome_is_the_rules_prediction_and_the_log_reproduces_it(
    hosts: int,
    ops: int,
    seed: int,
    fail_rate: float,
    connect_rate: float,
    fail_percent: int | None,
) -> None:
    names = [f"@sim/h{i}" for i in range(hosts)]
    data = {"sim_seed": seed, "sim_fail_rate": fail_rate, "sim_connect_fail_rate": connect_rate}
    log = SqliteEventLog(":memory:")
    state = State(Inventory((names, data)), Config(FAIL_PERCENT=fail_percent), log=log)
    error = _deploy(state, ops)

    abort, failed, counts = _predict(names, ops, seed, fail_rate, connect_rate, fail_percent)
    if abort is None:
        assert error is None
    else:
        assert error is not None and error.startswith(abort)
    assert {host.name for host in state.failed_hosts} == failed
    for host in state.inventory:
        results = state.results[host]
        assert (results.success_ops, results.error_ops) == counts[host.name]
    assert state.view.run.status is not None

    # The log alone reproduces the live State exactly.
    assert verify_run(log, state.run_id).ok
    assert rebuild(log, state.run_id) == state.view


def test_the_same_seed_gives_the_same_events_per_host() -> None:
    def run() -> dict[str, list[tuple[str, str]]]:
        names = [f"@sim/h{i}" for i in range(6)]
        data = {"sim_seed": 3, "sim_fail_rate": 0.2}
        state = State(Inventory((names, data)), Config(FAIL_PERCENT=90), log=MemoryEventLog())
        _deploy(state, 5)
        per_host: dict[str, list[tuple[str, str]]] = {}
        for stored in state.log.read(state.run_id):
            if stored.host:
                per_host.setdefault(stored.host, []).append((stored.type, stored.payload[-60:]))
        return per_host

    first, second = run(), run()
    strip = {  # timestamps and run ids differ; what happened, and its order, must not
        host: [kind for kind, _ in events] for host, events in first.items()
    }
    assert strip == {host: [kind for kind, _ in events] for host, events in second.items()}


def test_200_hosts_by_50_ops_completes_and_the_log_holds_every_result(tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = [f"@sim/h{i:03d}" for i in range(200)]
    log = SqliteEventLog(tmp_path / "big.db")
    state = State(Inventory((names, {})), Config(), log=log)
    assert _deploy(state, 50) is None
    log.close()
    with SqliteEventLog(tmp_path / "big.db", create=False) as reread:
        types = Counter(stored.type for stored in reread.read(state.run_id))
        assert types["HostOperationFinished"] == 200 * 50
        assert types["CommandExecuted"] == 0  # each op's command rides on its outcome
        assert types["OperationAdded"] == 2 * 50  # an op's meta, and its 200 hosts at once
        view = rebuild(reread, state.run_id)
    assert all(view.results[name].success_ops == 50 for name in names)
