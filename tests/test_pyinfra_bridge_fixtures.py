"""pyinfra 3.10's own fixtures as the bridge's oracle.

Every operation case (``tests/data/pyinfra_fixtures/operations/<module>.<op>/``)
is called as a deploy calls it -- the pyinfra operation, bridged, prepared on a
host of an eventstate State -- and its command generator run, with the case's
facts answering ``host.get_fact`` as pyinfra's harness answers them: the
commands it yields (translated to eventstate's) and its noop text must equal
the case's exactly, or it must raise the case's exception.

Every fact case (``facts/<module>.<Fact>/``) goes through eventstate's fact
runner: the bridged fact's command must be the case's, and ``state.get_fact``
on a ``@sim`` host printing the case's output must record the command and
give the case's value.

Cases that cannot pass are listed, with the reason, in
``tests/data/pyinfra_fixture_exclusions.txt``: a listed case that passes
fails the test, as does an unlisted case that fails.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from freezegun import freeze_time
from pyinfra.api.facts import ShortFactBase

# Only pyinfra_testing.util: its .facts and .operations import pyinfra_cli, whose import
# monkey-patches the whole process with gevent (os.close among it).
from pyinfra_testing.util import (
    canonical_mapping_key,
    coerce_operation_arguments,
    create_host,
    parse_value,
    patch_files,
)

from eventstate import Config, Inventory, State
from eventstate.commands import (
    FileDownloadCommand,
    FileUploadCommand,
    FunctionCommand,
    StringCommand,
)
from eventstate.context import using
from eventstate.events import CommandExecuted
from eventstate.pyinfra_bridge import (
    BridgeSession,
    HostAdapter,
    PyinfraFact,
    StateAdapter,
    adapted_fact,
    bridged_operation,
    get_pyinfra_fact,
    pointed_at,
    session_for,
    use_session,
)

FIXTURES = Path(__file__).parent / "data" / "pyinfra_fixtures"
EXCLUSIONS = Path(__file__).parent / "data" / "pyinfra_fixture_exclusions.txt"
SUFFIXES = (".json", ".yaml", ".yml")
_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _cases(kind: str) -> list[str]:
    return sorted(
        f"{kind}/{directory.name}/{case.stem}"
        for directory in (FIXTURES / kind).iterdir()
        if directory.is_dir()
        for case in directory.iterdir()
        if case.suffix in SUFFIXES
    )


OPERATION_CASES = _cases("operations")
FACT_CASES = _cases("facts")


def _exclusions() -> dict[str, str]:
    excluded: dict[str, str] = {}
    for line in EXCLUSIONS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            case, _, reason = line.partition("  # ")
            assert reason.strip(), f"{case}: an exclusion says why"
            excluded[case.strip()] = reason.strip()
    return excluded


EXCLUDED = _exclusions()


def _load(case: str) -> dict[str, Any]:
    kind, directory, name = case.split("/")
    for suffix in SUFFIXES:
        path = FIXTURES / kind / directory / f"{name}{suffix}"
        if path.exists():
            text = path.read_text(encoding="utf-8")
            # pyinfra's harness reads every case with YAML: JSON is faster, where it is JSON
            # (a few cases have trailing commas, which YAML takes).
            try:
                data: dict[str, Any] = json.loads(text, strict=False)
            except json.JSONDecodeError:
                data = yaml.load(text, Loader=_YAML)
            return data
    raise FileNotFoundError(case)


# One State for every operation case, and one for every fact case (a host each): a
# State per case would cost more than the cases.
_states: dict[str, State] = {}


def _operations_state() -> State:
    if "operations" not in _states:
        inventory = Inventory((["@sim/fixtures"], {}))
        _states["operations"] = State(inventory, Config(), check_for_changes=False)
    return _states["operations"]


# Facts: each case's host prints the case's output to any command.
def _fact_output(data: dict[str, Any]) -> str:
    output = data.get("output") or ""
    return output if isinstance(output, str) else "\n".join(output)


def _facts_state() -> State:
    if "facts" not in _states:
        hosts = [
            (f"@sim/{index}", {"sim_outputs": {"": _fact_output(_load(case))}})
            for index, case in enumerate(FACT_CASES)
        ]
        _states["facts"] = State(Inventory((hosts, {})), Config())
    return _states["facts"]


class CaseState(StateAdapter):
    """pyinfra's test state: local paths are relative to ``/``, temp files named plainly."""

    cwd = "/"

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "_tempfile_"


class CaseHost(HostAdapter):
    """The host adapter, answering facts from the case as pyinfra's FakeHost does."""

    def __init__(self, state: Any, host: Any, session: BridgeSession, facts: Any) -> None:
        super().__init__(state, host, session)
        self._fake = create_host(None, facts=facts)

    def get_fact(self, fact_class: Any, *args: Any, **kwargs: Any) -> Any:
        return self._fake.get_fact(fact_class, *args, **kwargs)

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "_tempfile_"

    def get_temp_dir_config(self) -> str:
        return "_tempdir_"

    def get_file(self, *args: Any, **kwargs: Any) -> bool:
        return True


def _shown(command: Any) -> Any:
    """An eventstate command as pyinfra's fixtures write one."""
    if isinstance(command, StringCommand):
        raw, masked = command.raw(), command.masked()
        return raw if raw == masked else {"raw": raw, "masked": masked}
    if isinstance(command, FunctionCommand):
        function = command.function
        name = function if function == "__func__" else function.__name__
        return [name, list(command.args), command.kwargs]
    if isinstance(command, FileUploadCommand):
        src = command.src
        if hasattr(src, "read"):
            src.seek(0)  # type: ignore[union-attr]
            data = src.read()  # type: ignore[union-attr]
            data = data.decode() if isinstance(data, bytes) else data
        else:
            data = str(src)
        return ["upload", data, str(command.dest)]
    if isinstance(command, FileDownloadCommand):
        return ["download", str(command.src), str(command.dest)]
    raise AssertionError(f"{command!r} is not a command pyinfra's fixtures know")


class _LocalFiles(patch_files):
    """pyinfra's fake local files as pyinfra 3.10's own ``tests/conftest.py`` extends them:
    ``pathlib.Path``'s methods answer from them too (pyinfra reads local files through
    pathlib now)."""

    def __enter__(self) -> None:
        fake = self

        def mkdir(path: Path, mode: int = 0o777, parents: bool = False, exist_ok: bool = False):
            return True

        self._path_patches = [
            patch.object(Path, "exists", new=lambda path: fake.exists(str(path))),
            patch.object(Path, "is_file", new=lambda path: fake.isfile(str(path))),
            patch.object(Path, "is_dir", new=lambda path: fake.isdir(str(path))),
            patch.object(Path, "is_symlink", new=lambda path: fake.islink(str(path))),
            patch.object(Path, "mkdir", new=mkdir),
        ]
        for patched in self._path_patches:
            patched.start()
        super().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        try:
            super().__exit__(*exc_info)
        finally:
            for patched in self._path_patches:
                patched.stop()


@contextmanager
def _as_pyinfra_tests_run(local_files: dict[str, Any]) -> Iterator[None]:
    # pyinfra's harness: a fixed timestamp, and the case's local files.
    with ExitStack() as stack:
        stack.enter_context(patch("pyinfra.operations.files.get_timestamp", lambda: "a-timestamp"))
        stack.enter_context(
            patch("pyinfra.operations.util.files.get_timestamp", lambda: "a-timestamp")
        )
        stack.enter_context(_LocalFiles(local_files))
        yield


def run_operation_case(case: str, data: dict[str, Any] | None = None) -> str | None:
    """None if the case (or ``data`` in its place) passes through the bridge, else what differs."""
    data = _load(case) if data is None else data
    if "require_platform" in data and platform.system() not in data["require_platform"]:
        return f"not for {platform.system()}"
    module_name, op_name = case.split("/")[1].rsplit(".", 1)
    pyinfra_op = getattr(import_module(f"pyinfra.operations.{module_name}"), op_name)
    op = bridged_operation(pyinfra_op)
    args, kwargs = coerce_operation_arguments(
        pyinfra_op, parse_value(data.get("args", [])), parse_value(data.get("kwargs", {}))
    )
    state = _operations_state()
    host = state.inventory.get_host("@sim/fixtures")
    facts = data.get("facts", {})
    use_session(
        state,
        BridgeSession(
            host_adapter=lambda state, host, session: CaseHost(state, host, session, facts),
            state_adapter=CaseState,
        ),
    )
    adapter = session_for(state).host_adapter(state, host)
    expected_exception = data.get("exception")
    try:
        with using(state, host), _as_pyinfra_tests_run(data.get("local_files", {})):
            result = op(*args, **kwargs)
            generator = state.get_op_data_for_host(host, result.op_hash).command_generator
            commands = [_shown(command) for command in generator()]
    except Exception as error:
        if not expected_exception:
            return f"raised {type(error).__name__}: {error}"
        names = expected_exception.get("names") or [expected_exception["name"]]
        if type(error).__name__ not in names:
            return f"raised {type(error).__name__}, not {names}: {error}"
        if error.args[0] != expected_exception["message"]:
            return f"raised {error.args[0]!r}, not {expected_exception['message']!r}"
        return None
    if expected_exception:
        return f"raised nothing, not {expected_exception}"
    if commands != data["commands"]:
        return f"commands {commands!r}, not {data['commands']!r}"
    noop = data.get("noop_description")
    if noop is not None and adapter.noop_description != noop:
        return f"noop {adapter.noop_description!r}, not {noop!r}"
    if not commands and noop is None and adapter.noop_description is None:
        return "no commands and no noop description"
    return None


def _fact_arguments(arguments: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(arguments, dict):
        return (), arguments
    if not isinstance(arguments, list):
        arguments = [arguments]
    return tuple(arguments), {}


def _command_shown(command: Any) -> Any:
    command = StringCommand(command)
    raw, masked = command.raw(), command.masked()
    return raw if raw == masked else {"raw": raw, "masked": masked}


def run_fact_case(case: str) -> str | None:
    """None if the case passes through eventstate's fact runner, else what differs."""
    data = _load(case)
    state = _facts_state()
    host = state.inventory.get_host(f"@sim/{FACT_CASES.index(case)}")
    # Facts that ask other facts (in command() or process()) get the case's answers,
    # as in pyinfra's harness.
    facts = data.get("facts", {})
    use_session(
        state,
        BridgeSession(
            host_adapter=lambda state, host, session: CaseHost(state, host, session, facts)
        ),
    )
    # As pyinfra's harness: the date frozen while the fact parses (for "this year"), only.
    frozen = freeze_time("2025-01-01")(PyinfraFact.process)
    with (
        patch.object(PyinfraFact, "process", frozen),
        using(state, host),
        pointed_at(state, host),
    ):
        return _fact_case(case, data, state, host)


def _fact_case(case: str, data: dict[str, Any], state: State, host: Any) -> str | None:
    module_name, fact_name = case.split("/")[1].rsplit(".", 1)
    fact_class = getattr(import_module(f"pyinfra.facts.{module_name}"), fact_name)
    gathered = fact_class.fact if issubclass(fact_class, ShortFactBase) else fact_class
    args, kwargs = _fact_arguments(data.get("arg", []))
    # What the fact asks the host, before the runner adds anything.
    callargs = dict(kwargs)
    if args or kwargs:
        callargs = inspect.getcallargs(gathered().command, *args, **kwargs)
        callargs.pop("self", None)
    adapted = adapted_fact(gathered)()
    command = _command_shown(adapted.unguarded_command(**callargs))
    if "command" in data and command != data["command"]:
        return f"command {command!r}, not {data['command']!r}"
    required = adapted.required_command(**callargs)
    if required and "requires_command" in data and required != data["requires_command"]:
        return f"requires {required!r}, not {data['requires_command']!r}"

    state.flush()
    last = state.log.last_event(state.run_id)
    value = get_pyinfra_fact(state, host, fact_class, args, dict(kwargs))
    state.flush()
    if host in state.failed_hosts:
        return "the fact failed the host"
    recorded = [
        json.loads(stored.payload)
        for stored in state.log.read(state.run_id, first=last.seq + 1 if last else 1)
        if stored.type == CommandExecuted.event_type and stored.host == host.name
    ]
    if len(recorded) != 1 or not recorded[0].get("fact"):
        return f"recorded {len(recorded)} fact commands, not 1"
    value = json.loads(json.dumps(_jsonable(value)))
    if value != data["fact"]:
        return f"value {value!r}, not {data['fact']!r}"
    return None


def _jsonable(value: Any) -> Any:
    """A fact's value as the JSON its case holds: pyinfra_testing.facts' normalisation
    (dataclasses expanded, keys made strings) and pyinfra_cli's ``json_encode`` leaves."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {
            key
            if key is None or isinstance(key, (str, int, float, bool))
            else canonical_mapping_key(key): _jsonable(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "to_json"):
        return _jsonable(value.to_json())
    return value


def _check(case: str, problem: str | None) -> None:
    if case in EXCLUDED:
        assert problem is not None, (
            f"{case} passes now: take it out of {EXCLUSIONS.name} ({EXCLUDED[case]})"
        )
    else:
        assert problem is None, f"{case}: {problem}"


@pytest.mark.parametrize("case", OPERATION_CASES)
def test_pyinfra_operation_case(case: str) -> None:
    _check(case, run_operation_case(case))


@pytest.mark.parametrize("case", FACT_CASES)
def test_pyinfra_fact_case(case: str) -> None:
    _check(case, run_fact_case(case))


def test_the_harness_leaves_the_process_unpatched() -> None:
    # pyinfra's CLI package monkey-patches everything with gevent when imported: a
    # patched os.close defers closing a pipe, and later tests block on it.
    import gevent.monkey

    assert not gevent.monkey.is_module_patched("os")
    script = "import sys, test_pyinfra_bridge_fixtures; print('pyinfra_cli' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=True,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_the_fixtures_are_pyinfras_and_the_exclusions_name_real_cases() -> None:
    # pyinfra 3.10.0's sdist: 1,009 JSON operation cases and 401 JSON fact cases (the
    # YAML ones besides).
    json_cases = [path for path in FIXTURES.rglob("*.json")]
    assert sum(1 for path in json_cases if path.parts[-3] == "operations") == 1009
    assert sum(1 for path in json_cases if path.parts[-3] == "facts") == 401
    unknown = set(EXCLUDED) - set(OPERATION_CASES) - set(FACT_CASES)
    assert not unknown, sorted(unknown)


@pytest.mark.parametrize(
    ("kind", "cases"), [("operations", OPERATION_CASES), ("facts", FACT_CASES)]
)
def test_at_least_97_percent_of_each_set_passes(kind: str, cases: list[str]) -> None:
    excluded = sum(1 for case in cases if case in EXCLUDED)
    assert (len(cases) - excluded) / len(cases) >= 0.97, f"{kind}: {excluded} of {len(cases)}"


def test_a_case_that_differs_is_reported() -> None:
    # The comparison can fail: the case with other expected commands, or noop text, fails.
    case = "operations/files.line/add"
    data = _load(case)
    assert data["commands"] and run_operation_case(case) is None
    problem = run_operation_case(case, {**data, "commands": ["echo something else"]})
    assert problem is not None and problem.startswith("commands")
    noop_case = "operations/files.line/add_existing"
    data = _load(noop_case)
    assert run_operation_case(noop_case) is None
    problem = run_operation_case(noop_case, {**data, "noop_description": "something else"})
    assert problem is not None and problem.startswith("noop")
