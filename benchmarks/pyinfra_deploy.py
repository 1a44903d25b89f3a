"""One pyinfra deploy through two engines: pyinfra 3.10's own, and eventstate's bridge.

The deploy file (:func:`deploy_source`) is a plain pyinfra deploy -- only
``pyinfra`` imports; ``files.line``, ``files.file``, ``files.directory``,
``files.put`` of a ``StringIO``, ``files.template``, ``files.link``,
``server.shell``, ``server.group``, ``server.user`` -- operations that ask
facts. It is written once and run unchanged by:

* **pyinfra**: as pyinfra's command line loads a deploy
  (``State.init``, ``connect_all``, ``pyinfra_cli.util.load_deploy_file``,
  ``run_ops``, ``disconnect_all``, with pyinfra's stages), on ``@canned``
  hosts (:class:`benchmarks.pyinfra_connector.CannedConnector`): every
  command returns at once, printing what :data:`CANNED_OUTPUTS` says.
* **ours**: ``eventstate.deploy.run_deploy`` -- the deploy file through the
  bridge (``eventstate/pyinfra_bridge/``) -- on ``@sim`` hosts whose
  ``sim_outputs`` is :data:`CANNED_OUTPUTS` itself, writing a durable SQLite
  log.

Both connectors pick a command's output the same way (:func:`canned_stdout`:
the first pattern of the table that ``re.search`` finds in the command's
text, else nothing), so both engines' facts see the same hosts. Each run
reports, per host, the op commands it ran (in order), the distinct fact
commands it ran and how many fact commands it ran in all
(:func:`host_work`): the op commands and the distinct fact commands must be
the same on both sides (:func:`compare_work`). The fact counts differ by
design: pyinfra 3.10 caches no fact (an op asks its facts once while
preparing and again while executing), eventstate caches them per host for
the run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CANNED_OUTPUTS",
    "HostWork",
    "canned_stdout",
    "compare_work",
    "deploy_source",
    "host_work",
    "run_ours",
    "run_pyinfra",
    "work_digest",
]

#: The outputs of the fact commands, by a regex of the command: the first one found wins
#: (``@sim``'s ``sim_outputs`` rule). Commands matching none print nothing (a missing
#: path, to the file facts), as do the deploy's own commands.
CANNED_OUTPUTS: dict[str, str] = {
    # files.line's FindInFile: the file exists, the line is not there yet.
    r"^grep -e .* /etc/app/app\.ini 2> /dev/null": "__pyinfra_exists_/etc/app/app.ini\n",
    # files.file's File: there, owned by root, mode 600 (so: chown and chmod).
    r"stat -c .* /srv/app/file\d+ 2> /dev/null": (
        "user=root group=root mode=-rw------- atime=1700000000 mtime=1700000000"
        " ctime=1700000000 size=12 '/srv/app/file'\n"
    ),
    # files.file(present=False)'s File: there (so: rm).
    r"stat -c .* /srv/app/old\d+ 2> /dev/null": (
        "user=root group=root mode=-rw-r--r-- atime=1700000000 mtime=1700000000"
        " ctime=1700000000 size=3 '/srv/app/old'\n"
    ),
    # The parent directory every files op checks.
    r"stat -c .* /srv/app 2> /dev/null": (
        "user=root group=root mode=drwxr-xr-x atime=1700000000 mtime=1700000000"
        " ctime=1700000000 size=4096 '/srv/app'\n"
    ),
    # TmpDir (files.put, files.template).
    r'echo "\$TMPDIR"': "/tmp\n",
    # server.group / server.user: Groups, Os, Users.
    r"^cat /etc/group$": "root:x:0:\napp:x:1000:\n",
    r"^uname -s$": "Linux\n",
    r"^command -v useradd ": "/usr/sbin/useradd\n",
    r"cat /etc/passwd \| cut -d: -f1": (
        "root:x:0:0:root:/root:/bin/bash|root|root||*\n"
        "app:x:1000:1000:app:/srv/app:/bin/sh|app|app||!\n"
    ),
}

_COMPILED = [(re.compile(pattern), output) for pattern, output in CANNED_OUTPUTS.items()]


def canned_stdout(command: str) -> str:
    """What ``command`` prints on a benchmark host (``@sim``'s ``sim_outputs`` rule)."""
    for pattern, output in _COMPILED:
        if pattern.search(command):
            return output
    return ""


#: The operations the deploy cycles through, by position modulo their number.
_OPERATIONS = (
    'files.line(path="/etc/app/app.ini", line="key{i} = on")',
    'files.file(path="/srv/app/file{i}", user="app", group="app", mode="644")',
    'files.directory(path="/srv/app/dir{i}", mode="755")',
    'files.put(src=StringIO("content {i}\\n"), dest="/srv/app/put{i}")',
    'files.template(src=StringIO("app={{{{ host.data.app_name }}}} n={i}\\n"),'
    ' dest="/srv/app/tmpl{i}")',
    'server.shell(name="Step {i}", commands=["echo {i}"])',
    'files.link(path="/srv/app/link{i}", target="/srv/app/file{i}")',
    'server.group(group="grp{i}")',
    'server.user(user="user{i}", group="app", home="/home/user{i}")',
    'files.file(path="/srv/app/old{i}", present=False)',
)

#: The host data both inventories give every host (``sim_outputs`` is read by ``@sim`` only).
HOST_DATA: dict[str, Any] = {"app_name": "bench", "sim_outputs": CANNED_OUTPUTS}


def deploy_source(ops: int) -> str:
    """The pyinfra deploy file: ``ops`` operations, cycling through ten kinds."""
    calls = "".join(_OPERATIONS[i % len(_OPERATIONS)].format(i=i) + "\n" for i in range(ops))
    return (
        '"""A pyinfra deploy: files and server operations that ask facts."""\n\n'
        "from io import StringIO\n\n"
        "from pyinfra.operations import files, server\n\n" + calls
    )


HostWork = dict[str, Any]


def host_work(ops: Iterable[str], facts: Iterable[str]) -> HostWork:
    """One host's work: its op commands in order, its distinct fact commands, the facts run."""
    fact_list = list(facts)
    return {"ops": list(ops), "facts": sorted(set(fact_list)), "fact_runs": len(fact_list)}


def work_digest(work: Mapping[str, HostWork]) -> str:
    """A SHA-256 of what every host did that both engines must agree on (hosts by position)."""
    shown = [[w["ops"], w["facts"]] for _, w in sorted(work.items(), key=_host_index)]
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()


def _host_index(item: tuple[str, HostWork]) -> int:
    return int(item[0].rsplit("/h", 1)[1])


def compare_work(pyinfra: Mapping[str, HostWork], ours: Mapping[str, HostWork]) -> list[str]:
    """The differences between both engines' work (hosts by position); empty when the same."""
    problems: list[str] = []
    theirs_hosts = [w for _, w in sorted(pyinfra.items(), key=_host_index)]
    our_hosts = [w for _, w in sorted(ours.items(), key=_host_index)]
    if len(theirs_hosts) != len(our_hosts):
        return [f"{len(theirs_hosts)} hosts ran under pyinfra, {len(our_hosts)} under eventstate"]
    for index, (theirs, mine) in enumerate(zip(theirs_hosts, our_hosts, strict=True)):
        for key in ("ops", "facts"):
            if theirs[key] != mine[key]:
                only_theirs = [c for c in theirs[key] if c not in mine[key]]
                only_mine = [c for c in mine[key] if c not in theirs[key]]
                problems.append(
                    f"host {index}: {key} differ ({len(theirs[key])} pyinfra,"
                    f" {len(mine[key])} eventstate); only pyinfra: {only_theirs[:3]!r};"
                    f" only eventstate: {only_mine[:3]!r}"
                )
    return problems


def _preload() -> None:
    """Import what the deploy file imports, before any clock starts (imports are untimed).

    Each side's clock then times the deploy, not loading pyinfra's operation
    modules (and Jinja2, for ``files.template``) on the first host.
    """
    import jinja2  # noqa: F401  (files.template's)
    import pyinfra.operations.files
    import pyinfra.operations.server  # noqa: F401


def _write_deploy(directory: Path, ops: int) -> Path:
    path = directory / "deploy.py"
    path.write_text(deploy_source(ops), encoding="utf-8")
    return path


def run_pyinfra(hosts: int, ops: int, directory: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """The deploy through pyinfra 3.10's engine, as its CLI loads a deploy file.

    Returns the timings and, per host name, its :func:`host_work` and op results.
    Importing ``pyinfra_cli`` monkey-patches the whole process with gevent (as
    pyinfra's command line runs): call this in a process of its own, never in a test's.
    """
    from benchmarks import pyinfra_connector

    connector_dir = pyinfra_connector.register()
    previous_state: Any = None
    try:
        from pyinfra.api import Config, Host, Inventory, State
        from pyinfra.api.connect import connect_all, disconnect_all
        from pyinfra.api.operations import run_ops
        from pyinfra.api.state import StateStage
        from pyinfra.context import ctx_state
        from pyinfra_cli.util import load_deploy_file  # type: ignore[import-untyped]

        _preload()
        deploy_file = str(_write_deploy(directory, ops))
        name = pyinfra_connector.inventory_name(hosts, pyinfra_connector.CANNED_CONNECTOR_NAME)
        pyinfra_connector.CannedConnector.commands.clear()
        # pyinfra memoizes each host's temporary directory by the host's name, for the
        # process: start as a fresh process does (the benchmark's are; a test's is not).
        Host._get_temp_directory.cache.clear()
        previous_state = ctx_state.get()

        cpu_started = time.process_time()
        started = time.perf_counter()
        # What pyinfra's CLI does: one State, its cwd the deploy's, made the context's.
        state = State()
        state.cwd = str(directory)
        ctx_state.set(state)
        inventory = Inventory(([name], dict(HOST_DATA)))
        state.init(inventory, Config())
        state.set_stage(StateStage.Connect)
        connect_all(state)
        connected = time.perf_counter()
        state.set_stage(StateStage.Prepare)
        load_deploy_file(state, deploy_file)
        prepared = time.perf_counter()
        state.set_stage(StateStage.Execute)
        run_ops(state)
        executed = time.perf_counter()
        state.set_stage(StateStage.Disconnect)
        disconnect_all(state)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu_started
    finally:
        # Put pyinfra's context back (this may run inside a test session).
        from pyinfra.context import ctx_state

        ctx_state.set(previous_state)
        shutil.rmtree(connector_dir, ignore_errors=True)

    recorded = pyinfra_connector.CannedConnector.commands
    hosts_seen: dict[str, Any] = {}
    for host in inventory:
        commands = recorded.get(host.name, [])
        work = host_work(
            (text for kind, text in commands if kind == "op"),
            (text for kind, text in commands if kind == "fact"),
        )
        result = state.results[host]
        work["success_ops"], work["error_ops"] = result.success_ops, result.error_ops
        hosts_seen[host.name] = work
    timings = {
        "setup_s": connected - started,
        "prepare_s": prepared - connected,
        "execute_s": executed - prepared,
        "finish_s": finished - executed,
        "total_s": finished - started,
        "cpu_s": cpu,
    }
    return timings, {"hosts": hosts_seen, "ops": len(state.get_op_order())}


def _upload_text(command: str) -> str:
    # Our log shows an upload as "upload DEST (N bytes, sha256 ...)": the dest is the work.
    return "upload " + command.split(" ", 2)[1]


def run_ours(
    hosts: int, ops: int, directory: Path, db: Path
) -> tuple[dict[str, float], dict[str, Any]]:
    """The deploy through eventstate's engine (``run_deploy``, the bridge) on ``@sim`` hosts.

    The log is a new SQLite file at ``db``, read back after the clock stops
    (the phases come from its ``StageChanged`` events' times). Returns the
    timings and, per host name, its :func:`host_work` and op results.
    """
    import eventstate.pyinfra_bridge.operation_bridge  # noqa: F401  (the bridge)
    from eventstate import Config, Inventory, SqliteEventLog, State
    from eventstate.deploy import run_deploy
    from eventstate.events import (
        CommandExecuted,
        HostOperationFinished,
        RunFinished,
        StageChanged,
    )

    _preload()
    deploy_file = str(_write_deploy(directory, ops))
    names = [f"@sim/h{i}" for i in range(hosts)]

    cpu_started = time.process_time()
    started = time.perf_counter()
    log = SqliteEventLog(str(db))
    state = State(Inventory((names, dict(HOST_DATA))), Config(), log=log)
    status = run_deploy(state, deploy_file)
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started

    op_commands: dict[str, list[str]] = {name: [] for name in names}
    fact_commands: dict[str, list[str]] = {name: [] for name in names}
    stages: dict[str, datetime] = {}
    events = 0
    for stored in log.read(state.run_id):
        events += 1
        if stored.type == StageChanged.event_type or stored.type == RunFinished.event_type:
            payload = json.loads(stored.payload)
            stages[payload.get("stage", "end")] = datetime.fromisoformat(payload["at"])
        if stored.type == CommandExecuted.event_type:
            payload = json.loads(stored.payload)
            commands = [payload]
        elif stored.type == HostOperationFinished.event_type:
            # An op's commands (and facts asked while it ran) are in its outcome event.
            payload = json.loads(stored.payload)
            commands = payload.get("commands", [])
        else:
            continue
        for command in commands:
            text = command["command"]
            if command.get("fact") is not None:
                fact_commands[payload["host"]].append(text)
            else:
                is_upload = text.startswith("upload ")
                op_commands[payload["host"]].append(_upload_text(text) if is_upload else text)
    hosts_seen: dict[str, Any] = {}
    for host in state.inventory:
        work = host_work(op_commands[host.name], fact_commands[host.name])
        result = state.results[host]
        work["success_ops"], work["error_ops"] = result.success_ops, result.error_ops
        hosts_seen[host.name] = work
    op_count = len(state.get_op_order())
    log.close()
    total = finished - started
    prepare = (stages["Execute"] - stages["Prepare"]).total_seconds()
    execute = (stages["end"] - stages["Execute"]).total_seconds()
    timings = {
        "setup_s": (stages["Prepare"] - stages["Connect"]).total_seconds(),
        "prepare_s": prepare,
        "execute_s": execute,
        "total_s": total,
        "cpu_s": cpu,
    }
    return timings, {
        "hosts": hosts_seen,
        "ops": op_count,
        "status": str(status.value),
        "events": events,
        "run_id": state.run_id,
    }


def scratch_directory() -> Path:
    """A new temporary directory for one run's deploy file and log (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix="eventstate-bench-pyinfra-deploy-"))


def _checked(side: str, hosts: int, ops: int, run: Mapping[str, Any]) -> dict[str, HostWork]:
    """The run's per-host work, once every host is seen to have succeeded every op."""
    from benchmarks.cases import CaseError

    seen: dict[str, HostWork] = run["hosts"]
    if len(seen) != hosts:
        raise CaseError(f"{side}: {len(seen)} hosts ran, not {hosts}")
    if run["ops"] != ops:
        raise CaseError(f"{side}: {run['ops']} operations, not {ops}")
    wrong = [name for name, work in seen.items() if work["success_ops"] != ops or work["error_ops"]]
    if wrong:
        raise CaseError(f"{side}: {len(wrong)} hosts did not succeed every op ({wrong[0]}...)")
    if run.get("status", "success") != "success":
        raise CaseError(f"{side}: the run's status is {run['status']}, not success")
    return seen


def _summary(work: Mapping[str, HostWork]) -> dict[str, Any]:
    return {
        "digest": work_digest(work),
        "op_commands": sum(len(w["ops"]) for w in work.values()),
        "distinct_fact_commands": sum(len(w["facts"]) for w in work.values()),
        "fact_commands_run": sum(w["fact_runs"] for w in work.values()),
    }


def case_check(hosts: int, ops: int) -> dict[str, Any]:
    """Both engines on the same deploy in one process, untimed: do they do the same work?

    Its own process (pyinfra's engine runs first, as its command line: patched by gevent).

    Raises :class:`~benchmarks.cases.CaseError` naming the first differences
    when the op commands (in order) or the distinct fact commands of any host
    differ, or when any host did not succeed every op.
    """
    from benchmarks.cases import CaseError

    directory = scratch_directory()
    try:
        _, theirs = run_pyinfra(hosts, ops, directory)
        _, ours = run_ours(hosts, ops, directory, directory / "events.db")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    their_work = _checked("pyinfra", hosts, ops, theirs)
    our_work = _checked("eventstate", hosts, ops, ours)
    problems = compare_work(their_work, our_work)
    if problems:
        raise CaseError(f"{len(problems)} differences: " + "; ".join(problems[:3]))
    return {
        "hosts": hosts,
        "ops": ops,
        "pyinfra": _summary(their_work),
        "ours": _summary(our_work),
        "digest": work_digest(our_work),
    }


def _keep(work: Mapping[str, HostWork], path: str) -> None:
    """Write the per-host work to ``path`` as JSON, when a path is given (after the clock)."""
    if path:
        Path(path).write_text(json.dumps(work), encoding="utf-8")


def case_pyinfra(hosts: int, ops: int, work: str = "") -> dict[str, Any]:
    """The timed run through pyinfra 3.10's engine (``@canned`` hosts).

    Its own process: importing ``pyinfra_cli`` monkey-patches it with gevent, as
    pyinfra's command line is. ``work``, when given, is where the per-host work goes.
    """
    directory = scratch_directory()
    try:
        timings, run = run_pyinfra(hosts, ops, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    checked = _checked("pyinfra", hosts, ops, run)
    _keep(checked, work)
    return {**timings, **_summary(checked), "host_ops": hosts * ops}


def case_ours(hosts: int, ops: int, work: str = "") -> dict[str, Any]:
    """The timed run through eventstate's engine and the bridge (``@sim``, SQLite log).

    ``work``, when given, is where the per-host work goes (JSON).
    """
    directory = scratch_directory()
    try:
        timings, run = run_ours(hosts, ops, directory, directory / "events.db")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    checked = _checked("eventstate", hosts, ops, run)
    _keep(checked, work)
    return {
        **timings,
        **_summary(checked),
        "events": run["events"],
        "run_id": run["run_id"],
        "host_ops": hosts * ops,
    }


#: This module's cases, by the name ``python -m benchmarks.case`` takes.
CASES = {
    "pyinfra-deploy-check": case_check,
    "pyinfra-deploy-pyinfra": case_pyinfra,
    "pyinfra-deploy-ours": case_ours,
}
