"""A pyinfra deploy file, unchanged, run by eventstate's deploy runner through the bridge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eventstate import Config, Inventory, State
from eventstate.deploy import run_deploy
from eventstate.errors import DeployFileError, PyinfraNotInstalledError
from eventstate.events import CommandExecuted, HostOperationFinished, RunStatus
from eventstate.pyinfra_bridge.activation import _MissingPyinfra, bridge_pyinfra_imports

DEPLOY = """\
from pyinfra import host
from pyinfra.operations import files, server
from pyinfra.facts.server import Which

files.line(path="{path}", line="managed = " + host.data.app_name)
server.shell(name="Say hi", commands=["echo hi from " + host.name])
if host.get_fact(Which, command="sh"):
    server.shell(commands=["echo sh is there"])
"""


def test_a_pyinfra_deploy_runs_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("other = 1\n")
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(DEPLOY.format(path=target))
    inventory = Inventory(([("@local", {"app_name": "demo"})], {}))
    state = State(inventory, Config())
    status = run_deploy(state, str(deploy_file))
    assert status is RunStatus.SUCCESS, [host.name for host in state.failed_hosts]

    # pyinfra's operation did its work on the host, as eventstate operations with
    # pyinfra's names; the facts it asked were recorded as fact commands.
    assert "managed = demo" in target.read_text()
    names = [sorted(state.op_meta[op_hash].names) for op_hash in state.get_op_order()]
    assert names == [["files.line"], ["Say hi"], ["server.shell"]]
    events = [
        stored
        for stored in state.log.read(state.run_id)
        # A fact asked while an op executes rides on the op's outcome, with its name.
        if stored.type in (CommandExecuted.event_type, HostOperationFinished.event_type)
    ]
    payloads = [str(stored.payload) for stored in events]
    assert any('"fact":"files.FindInFile' in payload for payload in payloads), payloads
    assert any('"fact":"server.Which' in payload for payload in payloads), payloads
    assert any("echo hi from @local" in payload for payload in payloads)

    # Run again: the line is there, so files.line has nothing to do.
    again = State(Inventory(([("@local", {"app_name": "demo"})], {})), Config())
    assert run_deploy(again, str(deploy_file)) is RunStatus.SUCCESS
    assert target.read_text().count("managed = demo") == 1

    # The bridge is gone once the deploy file ran: pyinfra's operations are its own again.
    from pyinfra.operations import files

    assert not hasattr(files.line, "pyinfra_operation")


def test_bridged_operations_keep_inner_for_pyinfras_own_calls() -> None:
    with bridge_pyinfra_imports():
        from pyinfra.operations import files

        assert files.line.pyinfra_operation._inner is files.line._inner  # type: ignore[attr-defined]


def test_pyinfra_missing_is_one_line_naming_the_extra() -> None:
    with pytest.raises(PyinfraNotInstalledError) as raised:
        _MissingPyinfra().find_spec("pyinfra", None)
    assert str(raised.value).endswith("pip install 'eventstate[pyinfra]'")
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ImportError)
    assert _MissingPyinfra().find_spec("pyinfra_docker", None) is None
    assert "pyinfra" in sys.modules  # the extra is installed here: the finder is last in line


def _names_in_order(state: State) -> list[str]:
    return [", ".join(sorted(state.op_meta[op_hash].names)) for op_hash in state.get_op_order()]


DEPLOY_FUNCTIONS = """\
from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.deploy import deploy as deploy_too
from pyinfra.operations import files, server

@deploy("Set up", data_defaults={{"greeting": "hello", "app_name": "default"}})
def set_up():
    server.shell(commands=["echo $GREETING " + host.data.greeting + " > {out}/outer"])
    configure()

@deploy_too()
def configure():
    files.line(path="{out}/app.conf", line="app = " + host.data.app_name)
    server.shell(commands=["echo $GREETING > {out}/inner"])

server.shell(commands=["echo first"])
set_up(_env={{"GREETING": "hi"}})
"""


def test_pyinfra_deploy_functions_name_nest_and_pass_arguments(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("")
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(DEPLOY_FUNCTIONS.format(out=tmp_path))
    # The host's data wins over the deploy's data defaults; the defaults fill the rest.
    state = State(Inventory(([("@local", {"app_name": "demo"})], {})), Config())
    assert run_deploy(state, str(deploy_file)) is RunStatus.SUCCESS

    # pyinfra's names (its CLI prints these for this file): the deploy's name, or the
    # function's, before the op's; nested deploys joined with " | ".
    assert _names_in_order(state) == [
        "server.shell",
        "Set up | server.shell",
        "Set up | configure | files.line",
        "Set up | configure | server.shell",
    ]
    # The deploy call's global arguments reach its ops and the nested deploy's.
    assert (tmp_path / "outer").read_text() == "hi hello\n"
    assert (tmp_path / "inner").read_text() == "hi\n"
    assert (tmp_path / "app.conf").read_text() == "app = demo\n"
    # Orders from the lines: the call's in the file, then the op's in the function.
    orders = [state.op_meta[op_hash].op_order for op_hash in state.get_op_order()]
    assert orders == [(0, 16), (0, 17, 8), (0, 17, 9, 13), (0, 17, 9, 14)]


def test_a_deploy_function_from_a_module_orders_by_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyinfra counts the lines of every file on the stack but its own: a deploy
    # imported from the user's module orders its ops by their lines in it.
    (tmp_path / "web_tasks.py").write_text(
        "from pyinfra.api import deploy\n"
        "from pyinfra.operations import server\n"
        "\n"
        "@deploy('Web')\n"
        "def web(port):\n"
        "    server.shell(commands=[f'echo {port}'])\n"
        "    server.shell(commands=['echo two'])\n"
    )
    (tmp_path / "deploy.py").write_text("from web_tasks import web\n\nweb(80)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "web_tasks", raising=False)
    state = State(Inventory((["@local"], {})), Config())
    assert run_deploy(state, str(tmp_path / "deploy.py")) is RunStatus.SUCCESS
    metas = [state.op_meta[op_hash] for op_hash in state.get_op_order()]
    assert [(sorted(meta.names), meta.op_order) for meta in metas] == [
        (["Web | server.shell"], (0, 3, 6)),
        (["Web | server.shell"], (0, 3, 7)),
    ]
    assert not any("-" in op_hash for op_hash in state.get_op_order())
    # Only while the deploy runs: the module is no deploy file.
    assert str(tmp_path / "web_tasks.py") not in state.deploy_files


def test_a_deploy_function_decorated_before_the_bridge_runs_on_eventstate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A library imported before the deploy ran (cached in sys.modules) was wrapped by
    # pyinfra's own _wrap_deploy: its call still runs on eventstate's host.
    (tmp_path / "early_tasks.py").write_text(
        "from pyinfra.api import deploy\n"
        "from pyinfra.operations import server\n"
        "\n"
        "@deploy('Early', data_defaults={'word': 'early'})\n"
        "def early(out):\n"
        "    seen.append(host.current_deploy_kwargs)\n"
        "    server.shell(commands=[f'echo $WHO {host.data.word} > {out}'])\n"
        "\n"
        "from pyinfra import host\n"
        "seen = []\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "early_tasks", raising=False)
    import early_tasks  # type: ignore[import-not-found]

    assert early_tasks.early.__code__.co_filename.endswith("pyinfra/api/deploy.py")
    out = tmp_path / "out"
    (tmp_path / "deploy.py").write_text(
        f"from early_tasks import early\nearly({str(out)!r}, _env={{'WHO': 'me'}})\n"
    )
    state = State(Inventory((["@local"], {})), Config())
    assert run_deploy(state, str(tmp_path / "deploy.py")) is RunStatus.SUCCESS
    assert _names_in_order(state) == ["Early | server.shell"]
    assert out.read_text() == "me early\n"
    # The call's global arguments as eventstate's @deploy takes them: those given (over
    # an outer deploy's), the rest resolved by each op -- not pyinfra's every default.
    assert early_tasks.seen == [{"_env": {"WHO": "me"}}]


def test_a_deploy_function_called_outside_eventstate_is_pyinfras_again() -> None:
    # Decorated while the bridge is installed, called later by pyinfra's own engine:
    # pyinfra's wrapper runs it, on pyinfra's host.
    with bridge_pyinfra_imports():
        from pyinfra.api import deploy

        @deploy("Later")
        def later() -> str | None:
            return host.current_deploy_name

    from pyinfra import host
    from pyinfra.api import Config as PyinfraConfig
    from pyinfra.api import Inventory as PyinfraInventory
    from pyinfra.api import State as PyinfraState
    from pyinfra.context import ctx_host, ctx_state

    pyinfra_state = PyinfraState(PyinfraInventory((["@local"], {})), PyinfraConfig())
    pyinfra_host = pyinfra_state.inventory.get_host("@local")
    with ctx_state.use(pyinfra_state), ctx_host.use(pyinfra_host):
        assert later() == "Later"
    assert later._inner.deploy_name == "Later"  # type: ignore[attr-defined]


INCLUDING = """\
from pyinfra import local
from pyinfra.operations import server

server.shell(commands=["echo before"])
local.include("tasks/web.py", data={"greeting": "hi"})
local.include("./tasks/web.py", data={"greeting": "again"})
server.shell(commands=["echo after"])
"""

INCLUDED = """\
from pyinfra import host
from pyinfra.operations import server

server.shell(name="Greet " + host.data.greeting, commands=["echo " + host.data.greeting])
"""


def test_pyinfra_local_include_runs_the_file_named_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "web.py").write_text(INCLUDED)
    (tmp_path / "deploy.py").write_text(INCLUDING)
    monkeypatch.chdir(tmp_path)  # pyinfra's paths are relative to where it runs
    state = State(Inventory((["@local"], {})), Config())
    assert run_deploy(state, "deploy.py") is RunStatus.SUCCESS
    assert _names_in_order(state) == [
        "server.shell",
        "tasks/web.py | Greet hi",
        "tasks/web.py | Greet again",
        "server.shell",
    ]
    # And pyinfra's own include is back once the deploy ran (it refuses outside its CLI).
    from pyinfra import local

    assert local.include.__module__ == "pyinfra.local"


OWN_KEYWORD = """\
from pyinfra.operations import files

files.directory(path="{link}", _no_fail_on_link=True)
"""


def test_an_operations_own_underscore_keyword_reaches_it(tmp_path: Path) -> None:
    # files.directory's _no_fail_on_link is in its signature: its argument, not an
    # unknown global one. A link where the directory should be is then no error.
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(OWN_KEYWORD.format(link=tmp_path / "link"))
    state = State(Inventory((["@local"], {})), Config())
    assert run_deploy(state, str(deploy_file)) is RunStatus.SUCCESS
    (op_hash,) = state.get_op_order()
    assert state.op_meta[op_hash].args == [f"path={tmp_path / 'link'}", "_no_fail_on_link=True"]
    assert (tmp_path / "link").is_symlink()

    # An underscore keyword neither the op's nor a global argument is still refused.
    deploy_file.write_text('from pyinfra.operations import files\nfiles.directory("/x", _nope=1)\n')
    with pytest.raises(DeployFileError, match="unknown operation argument _nope"):
        run_deploy(State(Inventory((["@local"], {})), Config()), str(deploy_file))
