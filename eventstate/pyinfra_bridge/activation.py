"""pyinfra deploys under ``eventstate deploy``: the bridge installs itself while a deploy file runs.

Inside :func:`bridge_pyinfra_imports`, every module of ``pyinfra.operations``
-- imported already, or by the deploy file -- has its operations replaced by
bridged ones (:func:`~eventstate.pyinfra_bridge.operation_bridge.bridge_module`),
so ``from pyinfra.operations import files`` then ``files.line(...)`` adds an
eventstate operation; pyinfra's ``@deploy`` functions run as eventstate's
deploys (:mod:`.deploy_bridge`) and ``local.include`` is eventstate's
(:mod:`.local_bridge`); operations the deploy's code defines with pyinfra's
``@operation()`` -- while the bridge is installed, or before, in a module
loaded earlier -- run on eventstate too (:mod:`.user_operations`); pyinfra's
``host``, ``state`` and ``config`` are the current eventstate host's
adapters; and ``import pyinfra`` without pyinfra installed is one line
saying what to install. Everything is put back when the block ends.
Nothing here imports pyinfra: a deploy that never names it never loads it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any

from eventstate.pyinfra_bridge.requirement import missing_pyinfra

__all__ = ["bridge_pyinfra_imports"]

_OPERATIONS = "pyinfra.operations."
_DEPLOY = "pyinfra.api.deploy"
_LOCAL = "pyinfra.local"
_OPERATION = "pyinfra.api.operation"


def _bridged(name: str) -> bool:
    """Whether the bridge changes the pyinfra module ``name`` once loaded."""
    return name in (_DEPLOY, _LOCAL, _OPERATION) or name.startswith(_OPERATIONS)


def _bridge(module: ModuleType) -> dict[str, Any]:
    """Bridge the pyinfra module in place; the originals by attribute name."""
    if module.__name__ == _DEPLOY:
        from eventstate.pyinfra_bridge.deploy_bridge import bridge_deploy_module

        return bridge_deploy_module(module)
    if module.__name__ == _LOCAL:
        from eventstate.pyinfra_bridge.local_bridge import bridge_local_module

        return bridge_local_module(module)
    if module.__name__ == _OPERATION:
        from eventstate.pyinfra_bridge.user_operations import bridge_operation_module

        return bridge_operation_module(module)
    from eventstate.pyinfra_bridge.operation_bridge import bridge_module

    return bridge_module(module)


class _MissingPyinfra(importlib.abc.MetaPathFinder):
    """Last on the path: ``import pyinfra`` that nothing else found."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == "pyinfra":
            raise missing_pyinfra()
        return None


class _BridgingLoader(importlib.abc.Loader):
    """pyinfra's loader for an operations module, bridging its operations once loaded."""

    def __init__(self, loader: Any, loaded: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._loaded = loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._loaded(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _OperationsFinder(importlib.abc.MetaPathFinder):
    """First on the path: finds ``pyinfra`` and the modules the bridge changes as usual,
    and bridges them once loaded."""

    def __init__(self, loaded: Callable[[ModuleType], None]) -> None:
        self._loaded = loaded

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pyinfra" and not _bridged(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _BridgingLoader(spec.loader, self._loaded)
        return spec


@contextmanager
def bridge_pyinfra_imports() -> Iterator[None]:
    """Run pyinfra deploy code inside the block: its operations become eventstate's."""
    replaced: list[tuple[ModuleType, dict[str, Any]]] = []
    activated = ExitStack()
    active: list[bool] = []

    def activate() -> None:
        # The block's first pyinfra module: point pyinfra's context at ours.
        if not active:
            from eventstate.pyinfra_bridge.adapters import pointed_at_current

            activated.enter_context(pointed_at_current())
            active.append(True)

    def loaded(module: ModuleType) -> None:
        activate()
        if _bridged(module.__name__):
            replaced.append((module, _bridge(module)))

    operations_finder = _OperationsFinder(loaded)
    missing = _MissingPyinfra()
    sys.meta_path.insert(0, operations_finder)
    sys.meta_path.append(missing)
    try:
        if "pyinfra" in sys.modules:
            activate()
        for name, module in list(sys.modules.items()):
            if _bridged(name) and module is not None:
                loaded(module)
        if _OPERATION in sys.modules:
            # Operations pyinfra's decorator made before the bridge, in the user's modules.
            from eventstate.pyinfra_bridge.user_operations import bridge_loaded_modules

            replaced.extend(bridge_loaded_modules())
        yield
    finally:
        sys.meta_path.remove(operations_finder)
        sys.meta_path.remove(missing)
        for module, originals in reversed(replaced):
            for name, original in originals.items():
                setattr(module, name, original)
        activated.close()
