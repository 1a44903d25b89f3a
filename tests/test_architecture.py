"""The rules that keep the layers honest, checked where they matter: when the code runs.

Each import is made in a fresh interpreter and judged by what it left in
``sys.modules``; names in the source alone can hide a deferred import or a
package ``__init__`` that loads everything.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _loaded_by(module: str, cwd: Path | None = None) -> set[str]:
    """The modules a fresh interpreter holds after ``import module``."""
    script = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd or ROOT
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        # The event vocabulary and its folds: nothing that runs, stores or waits.
        (
            "eventstate.projections",
            {
                "gevent",
                "sqlite3",
                "sqlite_utils",
                "psycopg",
                "eventstate.state",
                "eventstate.stores",
            },
        ),
        # Reading the past: stores and projections, never the engine or gevent.
        (
            "eventstate.replay",
            {
                "gevent",
                "sqlite3",
                "sqlite_utils",
                "psycopg",
                "psycopg_pool",
                "eventstate.state",
                "eventstate.recorder",
                "eventstate.execute",
            },
        ),
        # The root re-exports lazily: importing it loads nothing heavy.
        (
            "eventstate",
            {"gevent", "sqlite_utils", "psycopg", "eventstate.state", "eventstate.projections"},
        ),
        # The engine never reads the past.
        ("eventstate.state", {"eventstate.replay", "eventstate.cli"}),
        ("eventstate.execute", {"eventstate.replay", "eventstate.cli"}),
        # The store contract builds its runs from events: no engine to run them.
        ("eventstate.testing.contract", {"eventstate.state", "gevent"}),
        # Stores load their backend when a URL names it, not before.
        (
            "eventstate.stores",
            {
                "sqlite3",
                "sqlite_utils",
                "eventstate.stores.sqlite",
                "psycopg",
                "psycopg_pool",
                "eventstate.stores.postgres",
            },
        ),
        # The CLI loads a backend only when its URL is given.
        ("eventstate.cli", {"psycopg", "psycopg_pool", "eventstate.stores.postgres"}),
    ],
)
def test_an_import_loads_only_its_layers(module: str, forbidden: set[str]) -> None:
    loaded = _loaded_by(module)
    assert not loaded & forbidden, f"import {module} loads {sorted(loaded & forbidden)}"


#: The bridge's modules that import pyinfra (the optional extra); the rest of the bridge --
#: the package, its activation and requirement check, which the core imports -- never does.
PYINFRA_BRIDGE = "eventstate.pyinfra_bridge"
PYINFRA_MODULES = {
    f"{PYINFRA_BRIDGE}.{name}"
    for name in (
        "adapters",
        "command_translation",
        "fact_adapter",
        "fact_names",
        "operation_bridge",
    )
}


def test_nothing_installs_a_top_level_name_but_eventstate() -> None:
    # Every module of ours, imported: only eventstate.* (and never pyinfra) appears.
    modules = sorted(
        module
        for module in _module_graph()
        if module != "eventstate.__main__" and module not in PYINFRA_MODULES
    )
    assert PYINFRA_BRIDGE in modules and "eventstate.deploy" in modules
    assert "eventstate.projections.host_ops" in modules and "eventstate.replay.export" in modules
    loaded = _loaded_by(", ".join(modules))
    assert not {"projections", "replay", "pyinfra"} & _tops(loaded)


@pytest.mark.parametrize("name", ["replay", "projections"])
def test_a_users_module_of_the_same_name_breaks_nothing(tmp_path: Path, name: str) -> None:
    # A user's own replay.py (or PyPI's replay) beside their deploy.
    (tmp_path / f"{name}.py").write_text("raise ImportError('the user\\'s own module')\n")
    loaded = _loaded_by("eventstate.cli, eventstate.replay, eventstate.state", cwd=tmp_path)
    assert "eventstate.replay" in loaded
    assert name not in loaded


def test_the_install_holds_only_eventstate() -> None:
    # What setuptools installs, from pyproject.toml's own package settings.
    try:
        import tomllib
    except ImportError:  # Python 3.10: pytest brings tomli
        import tomli as tomllib  # type: ignore[no-redef]
    from setuptools import find_packages

    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = find_packages(str(ROOT), **settings["packages"]["find"])
    assert {name.split(".")[0] for name in packages} == {"eventstate"}
    assert {"eventstate.projections", "eventstate.replay"} <= set(packages)
    assert "py.typed" in settings["package-data"]["eventstate"]
    assert (ROOT / "eventstate" / "py.typed").exists()


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        modules: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
        found[str(path.relative_to(ROOT))] = modules
    return found


def _module_graph() -> dict[str, set[str]]:
    """Each module of ours and the modules of ours it imports: at the top, deferred
    inside functions, and under ``TYPE_CHECKING`` alike."""
    paths: dict[str, Path] = {}
    for package, prefix in (
        ("eventstate", ""),
        ("projections", "eventstate."),
        ("replay", "eventstate."),
    ):
        for path in (ROOT / package).rglob("*.py"):
            if path.is_relative_to(ROOT / "eventstate" / "projections") or path.is_relative_to(
                ROOT / "eventstate" / "replay"
            ):
                continue  # the links: their files are named under projections/ and replay/
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            paths[prefix + ".".join(parts)] = path
    # ``from eventstate import State`` is an import of the module the root's lazy
    # table names: the root must not hide what a module depends on.
    import eventstate

    public = {f"eventstate.{name}": module for name, module in eventstate._PUBLIC.items()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        graph[module] = set()
        for target in (public.get(target, target) for target in targets):
            # The longest module of ours the name falls in (``a.b.Name`` is ``a.b``).
            parts = target.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in paths:
                    if candidate != module:
                        graph[module].add(candidate)
                    break
    return graph


def test_no_import_cycles() -> None:
    graph = _module_graph()
    assert "eventstate.projections.state_view" in graph and "eventstate.replay.run" in graph
    # Depth-first search; a back edge is a cycle, reported as the path round it.
    finished: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in finished:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        finished.add(module)

    for module in sorted(graph):
        visit(module, [])


#: The layers the README's architecture section draws, lowest first.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("vocabulary", ("events", "codec", "chain", "errors", "version")),
    ("folds", ("projections",)),
    ("stores", ("stores",)),
    ("reading", ("replay",)),
    (
        "plain data",
        ("host", "inventory", "config", "commands", "context", "redaction", "authoring"),
    ),
    ("connectors", ("connectors",)),
    ("run", ("connections", "command_runner", "facts", "arguments", "printing")),
    ("State", ("state", "recorder", "snapshot_writer", "host_views")),
    (
        "engine",
        (
            "connect",
            "operation",
            "op_hashes",
            "execute",
            "host_op",
            "operations",
            "deploy_decorator",
            "local",
        ),
    ),
    # pyinfra's operations and facts over the engine; the deploy installs it per deploy file.
    ("pyinfra bridge", ("pyinfra_bridge",)),
    ("deploy", ("deploy", "rerun", "interruption")),
    ("CLI", ("cli", "__main__")),
    ("testing", ("testing",)),
]


def _layer(module: str) -> int:
    parts = module.split(".")
    for index, (_, members) in enumerate(LAYERS):
        if len(parts) > 1 and parts[1] in members:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and the README")


def test_imports_never_go_up_a_layer() -> None:
    graph = _module_graph()
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} ({LAYERS[_layer(imported)][0]})"
        for module, imports in sorted(graph.items())
        if module != "eventstate"  # the root: lazy re-exports of every layer
        for imported in sorted(imports)
        if imported != "eventstate" and _layer(imported) > _layer(module)
    ]
    assert not upward, upward


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "psycopg"])
def test_only_the_stores_name_a_backend(backend: str) -> None:
    # Backends stay behind eventstate.stores: open_log(url) is how the rest opens a log.
    # (The root re-exports SqliteEventLog and PostgresEventLog for users, and its
    # PostgresNotInstalledError; it uses nothing.)
    naming = [
        str(path.relative_to(ROOT))
        for package in ("eventstate", "projections", "replay")
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_relative_to(ROOT / "eventstate" / "stores")
        and path not in (ROOT / "eventstate" / "__init__.py", ROOT / "eventstate" / "errors.py")
        and backend in path.read_text().lower()
    ]
    assert not naming, naming


def test_projections_import_only_the_event_vocabulary() -> None:
    # Deferred and TYPE_CHECKING imports included: the source says what a fold may know.
    allowed = {"eventstate.events", "eventstate.errors"}
    for path, modules in _imports("projections").items():
        ours = {m for m in modules if m.split(".")[0] == "eventstate"}
        ours = {m for m in ours if not m.startswith("eventstate.projections")}
        assert ours <= allowed, f"{path} imports {sorted(ours - allowed)}"


def test_pyinfra_is_never_imported_by_our_code() -> None:
    # But by the bridge's own modules, which need the extra.
    allowed = {f"eventstate/{m.split('.', 1)[1].replace('.', '/')}.py" for m in PYINFRA_MODULES}
    for package in ("eventstate", "projections", "replay"):
        for path, modules in _imports(package).items():
            if path in allowed:
                continue
            assert not {m for m in modules if m.split(".")[0] == "pyinfra"}, path


def test_the_bridge_loads_pyinfra_only_when_used() -> None:
    # The deploy installs the bridge for every deploy file: that loads no pyinfra.
    assert "pyinfra" not in _tops(_loaded_by("eventstate.deploy, eventstate.pyinfra_bridge"))
    assert "pyinfra" in _tops(_loaded_by("eventstate.pyinfra_bridge.operation_bridge"))


def test_ruff_is_clean() -> None:
    # ruff comes with the test extra, beside this interpreter.
    ruff = str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        ruff = shutil.which("ruff") or "ruff"
    result = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_error_class_is_in_errors_py_under_one_root() -> None:
    import eventstate
    from eventstate import errors

    elsewhere = []
    for package in ("eventstate", "projections", "replay"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "eventstate" / "errors.py" or {"projections", "replay"} & set(
                path.relative_to(ROOT / "eventstate").parts[:1] if package == "eventstate" else ()
            ):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                    (getattr(base, "id", None) or getattr(base, "attr", "")).endswith(
                        ("Error", "Exception")
                    )
                    for base in node.bases
                ):
                    elsewhere.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not elsewhere, elsewhere

    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
    assert all(issubclass(cls, errors.EventstateError) for cls in classes)
    # Each one is public at the root, to catch without knowing which module raises it.
    assert {cls.__name__ for cls in classes} <= set(eventstate.__all__)
