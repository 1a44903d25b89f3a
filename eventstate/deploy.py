"""Inventory files and deploy files, as ``pyinfra INVENTORY DEPLOY.py`` reads them.

An inventory is a Python file or a comma-separated host list. In a file,
as pyinfra 3.10 reads one, every top-level list of hosts is a group (a host is
a name or a ``(name, data)`` pair), or a ``(hosts, data)`` pair a group with
its data; the group ``all``'s data, and ``data``, is what every host shares;
``<group>_data`` is a group's too; every host is also in a group named after
the file. Beside the inventory (and in the working directory),
``group_data/NAME.py`` files give group ``NAME`` its data -- their top-level
names, imports aside -- and ``group_data/all.py`` everyone's::

    web = ["@sim/web1", ("@sim/web2", {"port": 8080})]
    db = (["@sim/db1"], {"role": "db"})
    web_data = {"role": "web"}
    data = {"sim_latency": 0.01}

A deploy file is Python run once per active host, in inventory order; the
operations it calls are prepared for that host, their order taken from the
lines they are called on.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import traceback
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventstate.connect import connect_all, disconnect_all
from eventstate.connectors.process import kill_running_processes
from eventstate.context import using
from eventstate.errors import (
    DeployError,
    DeployFileError,
    EventstateError,
    InventoryError,
    StoreError,
)
from eventstate.events import DeployLoaded, RunFinished, RunStatus, StateStage
from eventstate.execute import Progress, run_ops
from eventstate.host import Host
from eventstate.interruption import DeployInterrupted
from eventstate.inventory import Inventory
from eventstate.pyinfra_bridge.activation import bridge_pyinfra_imports
from eventstate.redaction import redact_source, secret_values

if TYPE_CHECKING:
    from eventstate.state import State

__all__ = [
    "DeployFileError",
    "compile_deploy_file",
    "hosts_in_limit",
    "inventory_from_source",
    "load_inventory",
    "record_deploy",
    "record_interruption",
    "run_deploy",
    "run_deploy_file",
    "run_recorded",
]


def _is_host_list(value: Any) -> bool:
    if not isinstance(value, (list, tuple)) or not value:
        return False
    return all(
        isinstance(item, str)
        or (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str))
        for item in value
    )


def _where(error: BaseException, filename: str, included: Container[str] = ()) -> str:
    # The deepest line of the user's files (the deploy file and those it includes):
    # where their code went wrong.
    lines = [
        f"{frame.filename}:{frame.lineno}"
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == filename or frame.filename in included
    ]
    return lines[-1] if lines else filename


def _compile(path: Path) -> Any:
    try:
        source = path.read_text()
    except OSError as error:
        raise DeployFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        return compile(source, str(path), "exec")
    except SyntaxError as error:
        raise DeployFileError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None


def load_inventory(spec: str) -> Inventory:
    """The inventory a file path or a comma-separated host list describes.

    Raises:
        DeployFileError: the inventory file cannot be read or raises.
        InventoryError: the hosts cannot make an inventory.
    """
    path = Path(spec)
    if spec.endswith(".py") or _is_file(path):
        if not _is_file(path):
            raise DeployFileError(f"no inventory file {_shortened(spec)}")
        try:
            source = path.read_text()
        except OSError as error:
            raise DeployFileError(f"cannot read {path}: {error.strerror}") from None
        return inventory_from_source(source, str(path))
    names_list = [name.strip() for name in spec.split(",") if name.strip()]
    if not names_list:
        raise InventoryError("the inventory names no hosts")
    return Inventory((names_list, {}))


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False for what cannot be a path at all -- a host list
    longer than a file name may be (``OSError: File name too long``)."""
    try:
        return path.is_file()
    except (OSError, ValueError):  # ValueError: a NUL byte
        return False


def _shortened(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def hosts_in_limit(inventory: Inventory, spec: str | None) -> list[Host] | None:
    """The hosts a ``--limit`` names, in inventory order; None for all.

    Comma-separated host names, group names, and (as pyinfra's) glob patterns
    matched against host names (``web*``, ``@sim/db?``).

    Raises:
        InventoryError: a name is neither a host nor a group, or a pattern matches no host.
    """
    if not spec:
        return None
    chosen: set[str] = set()
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        if name in inventory.groups:
            chosen.update(host.name for host in inventory.groups[name])
        elif name in inventory.hosts:
            chosen.add(name)
        elif any(char in name for char in "*?["):
            matched = fnmatch.filter(inventory.hosts, name)
            if not matched:
                raise InventoryError(f"--limit: no host matches {name!r} in the inventory")
            chosen.update(matched)
        else:
            raise InventoryError(f"--limit: no host or group called {name!r} in the inventory")
    return [host for name, host in inventory.hosts.items() if name in chosen]


def inventory_from_source(source: str, filename: str) -> Inventory:
    """The inventory an inventory file's text describes (see the module's docstring)."""
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        raise DeployFileError(f"{filename}:{error.lineno}: syntax error: {error.msg}") from None
    namespace: dict[str, Any] = {"__file__": filename, "__name__": "inventory"}
    try:
        exec(code, namespace)
    except Exception as error:
        raise DeployFileError(
            f"{_where(error, filename)}: {type(error).__name__}: {error}"
        ) from None
    groups: dict[str, tuple[list[Any], dict[str, Any]]] = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        if _is_host_list(value):
            hosts, data = list(value), {}
        elif (
            isinstance(value, tuple)
            and len(value) == 2
            and _is_host_list(value[0])
            and isinstance(value[1], dict)
        ):
            hosts, data = list(value[0]), dict(value[1])
        else:
            continue
        group_data = _file_data(namespace.get(f"{name}_data"), f"{filename}: {name}_data")
        groups[name] = (hosts, {**_file_data(data, f"{filename}: {name}"), **group_data})
    if not groups:
        raise InventoryError(f"{filename} defines no hosts (top-level lists of host names)")
    every, every_data = groups.pop("all", ([], {}))
    names: dict[str, None] = {}
    for group_hosts, _ in [(every, {}), *groups.values()]:
        for item in group_hosts:
            names[item[0] if isinstance(item, tuple) else item] = None
    shared = {**every_data, **_file_data(namespace.get("data"), f"{filename}: data")}
    # Every host is in the group named after the file -- before group_data/<it>.py is read.
    stem = Path(filename).stem
    if stem and stem not in groups and stem != "all":
        groups[stem] = (list(names), {})
    for group, data in _group_data_files(filename).items():
        if group == "all":
            shared.update(data)
        elif group in groups:
            groups[group][1].update(data)
        else:
            groups[group] = ([], data)  # data for a group no host is in yet, as pyinfra
    hosts_and_data = [*every, *(name for name in names if name not in _names(every))]
    try:
        return Inventory((hosts_and_data, shared), None, **groups)
    except InventoryError as error:
        raise InventoryError(f"{filename}: {error}") from None


def _file_data(value: Any, what: str) -> dict[str, Any]:
    """An inventory file's data (``data``, ``web_data``...): a dict, or None for none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryError(f"{what} must be a dict, not {type(value).__name__}")
    return value


def _names(hosts: list[Any]) -> set[str]:
    return {item[0] if isinstance(item, tuple) else item for item in hosts}


def _group_data_files(inventory_filename: str) -> dict[str, dict[str, Any]]:
    """The data of ``group_data/*.py`` in the working directory and beside the inventory."""
    folders = [Path.cwd() / "group_data", Path(inventory_filename).resolve().parent / "group_data"]
    found: dict[str, dict[str, Any]] = {}
    for folder in dict.fromkeys(folder.resolve() for folder in folders):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            code = _compile(path)
            namespace: dict[str, Any] = {"__file__": str(path), "__name__": "group_data"}
            try:
                exec(code, namespace)
            except Exception as error:
                raise DeployFileError(
                    f"{_where(error, str(path))}: {type(error).__name__}: {error}"
                ) from None
            imported = _imported_names(code)
            keys = namespace.get("__all__") or [
                key for key in namespace if not key.startswith("__") and key not in imported
            ]
            found.setdefault(path.stem, {}).update({key: namespace[key] for key in keys})
    return found


def _imported_names(code: Any) -> set[str]:
    # Names bound by import statements are modules and helpers, not data (as pyinfra).
    tree = ast.parse(Path(code.co_filename).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def compile_deploy_file(path: str | os.PathLike[str]) -> Any:
    """The deploy file's code, compiled (to find a missing file or a syntax error first).

    Raises:
        DeployFileError: the file cannot be read or has a syntax error.
    """
    return _compile(Path(path).resolve())


def run_deploy_file(state: State, path: str | os.PathLike[str], code: Any = None) -> None:
    """Prepare the deploy file's operations on every active host, in inventory order.

    Args:
        state: The deploy's State.
        path: The deploy file.
        code: Its code from :func:`compile_deploy_file`, if already compiled.

    Raises:
        DeployFileError: the file cannot be read, has a syntax error, or
            raised while preparing a host (the message names file, line and host).
    """
    if code is None:
        code = compile_deploy_file(path)
    filename = code.co_filename
    state.deploy_filename = filename
    state.deploy_files = {filename}
    state.deploy_including = [filename]
    state.deploy_directory = os.path.dirname(os.path.abspath(filename))
    try:
        # A pyinfra deploy's operations become ours (nothing loads pyinfra unless the
        # deploy imports it).
        with bridge_pyinfra_imports():
            for host in list(state.active_hosts):
                namespace: dict[str, Any] = {"__file__": filename, "__name__": "deploy"}
                with using(state, host):
                    try:
                        exec(code, namespace)
                    except EventstateError as error:
                        # Hosts failing (a fact that could not be gathered...) is the
                        # run's outcome, not a mistake in the file; nor is the log
                        # failing to take the file's operations (a full disk).
                        if isinstance(error, (DeployFileError, DeployError, StoreError)):
                            raise
                        raise DeployFileError(
                            f"{_where(error, filename, state.deploy_files)} on {host.name}: {error}"
                        ) from error
                    except Exception as error:
                        where = _where(error, filename, state.deploy_files)
                        raise DeployFileError(
                            f"{where} on {host.name}: {type(error).__name__}: {error}"
                        ) from error
    finally:
        state.deploy_filename = None
        state.deploy_files, state.deploy_including = frozenset(), ()


def record_deploy(state: State, inventory: str, deploy_file: str, options: dict[str, Any]) -> None:
    """Record the deploy's code, inventory and options in the run (``DeployLoaded``).

    Secrets in the files -- string literals given to secret-named names, and
    the secret values of the hosts' data and the config -- are recorded as ``***``.
    """
    known: set[str] = set()
    for host in state.inventory:
        known |= secret_values(host.data)
    known |= secret_values(state.config.settings())
    inventory_path = Path(inventory)
    inventory_source = (
        redact_source(inventory_path.read_text(), known)
        if inventory.endswith(".py") or _is_file(inventory_path)
        else None
    )
    deploy_path = Path(deploy_file).resolve()
    state.record(
        DeployLoaded,
        inventory=inventory,
        inventory_source=inventory_source,
        deploy_file=str(deploy_path),
        deploy_source=redact_source(deploy_path.read_text(), known),
        options=options,
    )


def run_deploy(
    state: State,
    deploy_file: str,
    code: Any = None,
    *,
    dry: bool = False,
    serial: bool = False,
    no_wait: bool = False,
    progress: Progress | None = None,
) -> RunStatus:
    """A whole deploy: connect, prepare the deploy file, execute, disconnect -- recorded.

    :func:`run_recorded` with the deploy file as what prepares the run (see it
    for what is returned and raised); ``dry`` prepares and records the plan only.
    """
    return run_recorded(
        state,
        lambda: run_deploy_file(state, deploy_file, code),
        execute=not dry,
        serial=serial,
        no_wait=no_wait,
        progress=progress,
    )


def run_recorded(
    state: State,
    prepare: Callable[[], object],
    *,
    execute: bool = True,
    serial: bool = False,
    no_wait: bool = False,
    progress: Progress | None = None,
) -> RunStatus:
    """A whole run: connect, ``prepare()`` at the Prepare stage, execute its ops, disconnect.

    ``prepare`` adds the run's operations (a deploy file, ``eventstate exec``'s
    shell op) or asks its facts (``eventstate facts``); with ``execute`` False
    nothing is executed. Returns how the run ended. A run stopped by its hosts
    failing (FAIL_PERCENT, no host left) is an aborted run, not an exception.

    Raises:
        EventstateError: a mistake in the deploy (an unknown argument...), or
            anything else the deploy code raised -- after the run is recorded
            as aborted with it.
        KeyboardInterrupt: a signal stopped it (:class:`DeployInterrupted`, or
            Ctrl-C's own KeyboardInterrupt) -- after its commands are killed and
            the run is recorded as interrupted (:func:`record_interruption`).
        StoreError: the log refused the run's events; the run records no end.
    """
    try:
        connect_all(state)
        state.set_stage(StateStage.Prepare)
        prepare()
        if execute:
            run_ops(state, serial=serial, no_wait=no_wait, progress=progress)
        disconnect_all(state)
    except KeyboardInterrupt as interruption:
        record_interruption(state, interruption)
        disconnect_all(state)
        raise
    except DeployError as error:
        _abort(state, str(error))
        return RunStatus.ABORTED
    except StoreError:
        # The log refused events: recording the abort would be refused too.
        disconnect_all(state)
        raise
    except EventstateError as error:
        _abort(state, str(error))
        raise
    except Exception as error:
        _abort(state, f"{type(error).__name__}: {error}")
        raise
    status = RunStatus.FAILED if len(state.failed_hosts) else RunStatus.SUCCESS
    state.finish(status)
    return status


def _abort(state: State, error: str) -> None:
    # Record the abort first: it is what happened; disconnecting is clean-up.
    state.finish(RunStatus.ABORTED, error=error)
    disconnect_all(state)


def record_interruption(state: State, interruption: KeyboardInterrupt) -> None:
    """Stop the deploy a signal interrupted, and record that it was.

    Kills the process groups of the commands still running and the greenlets
    that ran them, then records the run's end -- ``interrupted``, naming the
    signal (SIGINT for a plain KeyboardInterrupt) -- and writes everything to
    the log. A run that already ended is only written.
    """
    kill_running_processes()
    # Greenlets gathering facts or running ops: none may record after the run's end.
    state.pool.kill()
    state.fact_pool.kill()
    name = interruption.signal_name if isinstance(interruption, DeployInterrupted) else "SIGINT"
    if state.view.run.status is None:
        state.record_unfinished_commands()  # what the ops stopped midway had run
        state.record(
            RunFinished,
            status=RunStatus.INTERRUPTED,
            error=f"interrupted by {name}",
            signal=name,
        )
    state.flush()
