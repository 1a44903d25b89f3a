"""A user's own pyinfra operations (``@operation()`` in the deploy's code) run on eventstate.

Deploys on ``@local`` in temporary directories, run by eventstate's deploy
runner through the bridge, then by the installed ``eventstate`` script (whose
``sys.path`` starts with its own directory, not the working directory).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import sysconfig
from collections.abc import Generator
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.deploy import run_deploy
from eventstate.errors import DeployFileError
from eventstate.events import CommandExecuted, RunStatus, StateStage
from eventstate.pyinfra_bridge.activation import bridge_pyinfra_imports

# A fact asked, commands yielded, a noop; pyinfra's own operation's _inner inside one.
DEPLOY = """\
from pyinfra import host
from pyinfra.api import operation
from pyinfra.facts.files import File
from pyinfra.operations import files


@operation()
def greeting(path, word="hello"):
    if host.get_fact(File, path=path) is None:
        yield f"echo {word} > {path}"
    else:
        host.noop(f"{path} is there")


@operation(is_idempotent=False, idempotent_notice="appends a line")
def configured(path, line):
    yield from files.line._inner(path=path, line=line)


greeting("{out}/greeting")
configured("{out}/app.conf", "port = " + str(host.data.port), name="Configure the app")
"""


def _names(state: State) -> list[str]:
    return [", ".join(sorted(state.op_meta[op_hash].names)) for op_hash in state.get_op_order()]


def _run(deploy_file: Path, data: dict[str, object] | None = None) -> State:
    state = State(Inventory(([("@local", data or {})], {})), Config())
    status = run_deploy(state, str(deploy_file))
    assert status is RunStatus.SUCCESS, [host.name for host in state.failed_hosts]
    return state


def _changes(state: State) -> tuple[int, int]:
    (meta,) = state.meta.values()
    return meta.ops_change, meta.ops_no_change


def _commands(state: State) -> list[str]:
    return [
        str(stored.payload)
        for stored in state.log.read(state.run_id)
        if stored.type == CommandExecuted.event_type
    ]


def test_a_user_operation_asks_facts_and_yields_commands(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("name = demo\n")
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(DEPLOY.replace("{out}", str(tmp_path)))
    state = _run(deploy_file, {"port": 8080})

    # pyinfra's names: a deploy file's operation by its own name (pyinfra runs the file
    # as no module), or the name= given; the arguments shown as pyinfra shows them.
    assert _names(state) == ["greeting", "Configure the app"]
    first = state.op_meta[state.get_op_order()[0]]
    assert list(first.args) == [f"{tmp_path}/greeting"]
    assert (tmp_path / "greeting").read_text() == "hello\n"
    assert (tmp_path / "app.conf").read_text() == "name = demo\nport = 8080\n"
    # Its facts went through eventstate's machinery: recorded as fact commands.
    commands = _commands(state)
    assert any('"fact":"files.File' in payload for payload in commands), commands
    assert any('"fact":"files.FindInFile' in payload for payload in commands), commands
    assert _changes(state) == (2, 0)

    # The second run finds the file and the line: nothing changes.
    again = _run(deploy_file, {"port": 8080})
    assert _names(again) == ["greeting", "Configure the app"]
    assert _changes(again) == (0, 2)
    assert (tmp_path / "app.conf").read_text() == "name = demo\nport = 8080\n"


HELPERS = """\
from pyinfra import host
from pyinfra.api.operation import operation
from pyinfra.facts.files import FindInFile
from pyinfra.facts.server import Which


@operation()
def marker(path, text):
    if host.get_fact(Which, command="sh") and not host.get_fact(
        FindInFile, path=path, pattern=f"^{text}$"
    ):
        yield f"echo {text} >> {path}"


@operation(is_deprecated=True, deprecated_for="helpers.marker")
def old_marker(path, text):
    yield from marker._inner(path, text)
"""

USING_HELPERS = """\
from tasks import helpers
from tasks.helpers import marker

marker("{out}/marks", "one")
helpers.marker("{out}/marks", "two")
"""


def test_an_operation_from_an_imported_module_is_named_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "helpers.py").write_text(HELPERS)
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(USING_HELPERS.replace("{out}", str(tmp_path)))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tasks", "tasks.helpers"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    state = _run(deploy_file)
    assert _names(state) == ["helpers.marker", "helpers.marker"]
    assert (tmp_path / "marks").read_text() == "one\ntwo\n"
    assert any('"fact":"server.Which' in payload for payload in _commands(state))

    # Imported under the bridge, it is still pyinfra's own outside eventstate's deploys:
    # the same operation, called with pyinfra's State, prepares a pyinfra operation.
    from pyinfra.api import Config as PyinfraConfig
    from pyinfra.api import Inventory as PyinfraInventory
    from pyinfra.api import State as PyinfraState
    from pyinfra.api.operation import OperationMeta
    from pyinfra.context import ctx_host, ctx_state

    helpers = sys.modules["tasks.helpers"]
    pyinfra_state = PyinfraState(PyinfraInventory((["@local"], {})), PyinfraConfig())
    pyinfra_state.config.SUDO = False
    pyinfra_host = pyinfra_state.inventory.get_host("@local")
    with ctx_state.use(pyinfra_state), ctx_host.use(pyinfra_host):
        pyinfra_state.check_for_changes = False
        meta = helpers.marker("/nowhere", "x")
    assert isinstance(meta, OperationMeta)
    assert [sorted(op.names) for op in pyinfra_state.op_meta.values()] == [["helpers.marker"]]

    # The second run: the marks are there (the op's own check), nothing changes.
    again = _run(deploy_file)
    assert _changes(again) == (0, 2)
    assert (tmp_path / "marks").read_text() == "one\ntwo\n"


def test_an_operation_decorated_before_the_bridge_runs_on_eventstate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module imported before the deploy ran, outside any bridge: pyinfra's own wrapper
    # made its operations. Called in the deploy, they still run on eventstate.
    (tmp_path / "early_ops.py").write_text(HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "early_ops", raising=False)
    import early_ops  # type: ignore[import-not-found]

    assert early_ops.marker.__code__.co_filename.endswith("pyinfra/api/operation.py")
    pyinfras = early_ops.marker
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(
        "import early_ops\n"
        "from early_ops import marker\n"
        f"marker({str(tmp_path / 'marks')!r}, 'early')\n"
        f"early_ops.marker({str(tmp_path / 'marks')!r}, 'late')\n"
    )
    state = _run(deploy_file)
    assert _names(state) == ["early_ops.marker", "early_ops.marker"]
    assert (tmp_path / "marks").read_text() == "early\nlate\n"
    # And pyinfra's own again once the deploy ran.
    assert early_ops.marker is pyinfras


def test_a_deprecated_operation_warns_at_each_call_and_the_run_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "deprecated_ops.py").write_text(HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deprecated_ops", raising=False)
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(
        "from deprecated_ops import old_marker\n"
        f"old_marker({str(tmp_path / 'marks')!r}, 'one')\n"
        f"old_marker({str(tmp_path / 'marks')!r}, 'two', name='Old two')\n"
    )
    with caplog.at_level(logging.WARNING, logger="eventstate"):
        state = _run(deploy_file)
    # pyinfra's words; its CLI counts a warning, so does the run (a WarningRaised event).
    warned = [record.getMessage() for record in caplog.records]
    assert (
        warned
        == [
            "[@local] The deprecated_ops.old_marker operation is deprecated, "
            "please use: helpers.marker"
        ]
        * 2
    )
    assert state.stage_warnings[StateStage.Prepare] == 2
    assert _names(state) == ["deprecated_ops.old_marker", "Old two"]
    assert (tmp_path / "marks").read_text() == "one\ntwo\n"


INCLUDED = """\
from pyinfra import host
from pyinfra.api import operation


@operation()
def twice(path):
    # The include's data, read while the body runs (at prepare and at execute).
    yield f"echo {host.data.word} >> {path}"


twice("{out}/words")
"""


def test_an_included_files_operation_is_named_under_the_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "words.py").write_text(INCLUDED.replace("{out}", str(tmp_path)))
    (tmp_path / "deploy.py").write_text(
        "from pyinfra import local\nlocal.include('tasks/words.py', data={'word': 'hi'})\n"
    )
    monkeypatch.chdir(tmp_path)
    state = _run(tmp_path / "deploy.py")
    assert _names(state) == ["tasks/words.py | twice"]
    assert (tmp_path / "words").read_text() == "hi\n"


IN_OP = """\
from pyinfra import host
from pyinfra.api import operation


@operation(_set_in_op={set_in_op})
def in_op(path):
    # pyinfra's host.in_op inside the body: what _set_in_op says (python.call's is False,
    # so that its body could call operations).
    yield f"echo {{host.in_op}} > {{path}}"


in_op("{out}/in_op")
"""


@pytest.mark.parametrize("set_in_op", [True, False])
def test_set_in_op_is_what_the_body_sees_as_host_in_op(tmp_path: Path, set_in_op: bool) -> None:
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(IN_OP.format(set_in_op=set_in_op, out=tmp_path))
    _run(deploy_file)
    assert (tmp_path / "in_op").read_text() == f"{set_in_op}\n"


NESTED = """\
from pyinfra.api import operation
from pyinfra.operations import server


@operation()
def outer():
    server.shell(commands=["true"])
    yield "true"


outer()
"""


def test_an_operation_called_in_another_ones_body_is_refused(tmp_path: Path) -> None:
    # pyinfra refuses it ("use the `_inner` function"); so does eventstate.
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(NESTED)
    with pytest.raises(DeployFileError, match="inside another operation"):
        _run(deploy_file)


def test_the_bridged_operation_keeps_pyinfras_marks() -> None:
    with bridge_pyinfra_imports():
        from pyinfra.api import operation

        @operation(is_idempotent=False, idempotent_notice="always runs")
        def always() -> Generator[str, None, None]:
            yield "true"

        assert always._inner.is_idempotent is False  # type: ignore[attr-defined]
    # pyinfra's own operation modules keep pyinfra's wrapping (bridged by attribute).
    from pyinfra.operations import files

    assert files.line.__code__.co_filename.endswith(  # type: ignore[attr-defined]
        "pyinfra/api/operation.py"
    )


TASKS_DEPLOY = """\
from tasks import helpers

helpers.marker("{out}/marks", "from-cli")
"""


def _console_script() -> Path:
    """The installed ``eventstate`` script (the project is installed in this environment)."""
    script = Path(sysconfig.get_path("scripts")) / "eventstate"
    assert script.is_file(), f"eventstate is not installed in {sys.prefix}"
    return script


def test_the_console_script_puts_the_working_directory_on_sys_path(tmp_path: Path) -> None:
    # pyinfra's CLI adds its working directory to sys.path: `from tasks import helpers`
    # in a deploy finds ./tasks. A console script's sys.path[0] is its own directory,
    # so eventstate's script must add it too (python -m adds it by itself).
    project = tmp_path / "project"
    (project / "tasks").mkdir(parents=True)
    (project / "tasks" / "__init__.py").write_text("")
    (project / "tasks" / "helpers.py").write_text(HELPERS)
    (project / "deploy.py").write_text(TASKS_DEPLOY.replace("{out}", str(tmp_path)))
    # The worktree's eventstate first, as the tests run it; never the working directory.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, str(_console_script()), "deploy", "@local", "deploy.py"]
    result = subprocess.run(
        [*command, "--db", str(tmp_path / "log.db")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "marks").read_text() == "from-cli\n"
