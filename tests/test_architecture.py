"""The rules that keep the layers honest: imports run one way, and the code is lint-clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def test_projections_import_only_the_event_vocabulary() -> None:
    allowed = {"eventstate.events", "eventstate.errors"}
    for path, modules in _imports("projections").items():
        ours = {m for m in modules if m.split(".")[0] in {"eventstate", "replay"}}
        assert ours <= allowed, f"{path} imports {sorted(ours - allowed)}"
        assert not {m for m in modules if m.split(".")[0] in {"gevent", "sqlite3", "sqlite_utils"}}


def test_the_engine_never_imports_replay() -> None:
    for path, modules in _imports("eventstate").items():
        if "/testing/" in path or "/cli/" in path:
            continue  # the contract suite rebuilds runs to check a store; the CLI sits on top
        assert not {m for m in modules if m.split(".")[0] == "replay"}, path


def test_replay_reads_stores_and_projections_only() -> None:
    forbidden = {"eventstate.state", "eventstate.recorder", "gevent"}
    for path, modules in _imports("replay").items():
        assert not modules & forbidden, f"{path} imports {sorted(modules & forbidden)}"


def test_pyinfra_is_never_a_runtime_import() -> None:
    for package in ("eventstate", "projections", "replay"):
        for path, modules in _imports(package).items():
            assert not {m for m in modules if m.split(".")[0] == "pyinfra"}, path


def test_ruff_is_clean() -> None:
    # ruff comes with the test extra, beside this interpreter.
    ruff = str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        ruff = shutil.which("ruff") or "ruff"
    result = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
