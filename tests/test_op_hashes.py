"""Op hashes: pyinfra 3.10's chain of duplicate hashes, link for link, in constant time."""

from __future__ import annotations

from hashlib import sha1
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstate import Config, Inventory, State
from eventstate.deploy import run_deploy
from eventstate.op_hashes import OpHashes


def _pyinfra(order: list[int], host_order: list[str]) -> tuple[tuple[int, ...], str]:
    # pyinfra.api.operation._solve_operation_consistency, as written there.
    op_hash = sha1(repr(tuple(order)).encode()).hexdigest()
    duplicate_op_count = 0
    while op_hash in host_order:
        op_hash = f"{op_hash}-{duplicate_op_count}"
        duplicate_op_count += 1
    if duplicate_op_count:
        order = [*order, duplicate_op_count]
    return tuple(order), op_hash


# A step: an op with one of a few order keys on one of two hosts, or a hash put in a
# host's order from outside (the API's add_op_to_host), maybe a link of a chain to come.
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("op"), st.integers(0, 1), st.integers(0, 2)),
        st.tuples(st.just("taken"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 4)),
        st.tuples(st.just("refused"), st.integers(0, 1), st.integers(0, 2)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_steps)
def test_the_same_hashes_and_orders_as_pyinfra(steps: list[tuple[int, ...]]) -> None:
    hashes = OpHashes()
    orders: dict[int, list[str]] = {0: [], 1: []}
    for step in steps:
        kind, host, key = step[0], step[1], step[2]
        order = [1, 10 + key]
        if kind == "taken":
            # A link of the chain: HASH, HASH-0, HASH-0-1...
            link = sha1(repr(tuple(order)).encode()).hexdigest()
            for number in range(int(step[3])):
                link = f"{link}-{number}"
            orders[host].append(link)
            continue
        expected = _pyinfra(order, orders[host])
        assert hashes.hash_on_host(host, orders[host], order) == expected
        if kind == "op":  # "refused": the op never reached the host's order (a bad meta)
            orders[host].append(expected[1])


def test_a_plain_loop_in_a_deploy_file(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.operations import server\n"
        "for i in range(40):\n"
        "    server.shell(commands=[f'echo {i}'])\n"
        "    if i % 3 == 0:\n"
        "        server.shell(commands=['third'])\n"
    )
    state = State(Inventory((["@sim/a", "@sim/b"], {})), Config())
    run_deploy(state, str(deploy))
    host_order: list[str] = []
    expected = []
    for i in range(40):
        for line in [3] + ([5] if i % 3 == 0 else []):
            order, op_hash = _pyinfra([0, line], host_order)
            host_order.append(op_hash)
            expected.append((order, op_hash))
    for host in state.inventory:
        assert list(host.op_hash_order) == host_order
        assert state.results[host].success_ops == len(expected)
    assert [(state.op_meta[h].op_order, h) for h in host_order] == expected
    assert state.get_op_order() == host_order
