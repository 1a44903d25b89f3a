"""A user's own pyinfra operations under the bridge: ``@operation()`` in a deploy's code.

A deploy file, a module it imports or a file it includes may define its own
operation with pyinfra's decorator (``from pyinfra.api import operation``)::

    @operation(is_idempotent=False)
    def greet(path):
        if host.get_fact(File, path=path) is None:
            yield f"echo hi > {path}"

Called in an eventstate deploy, it runs as a bridged operation
(:func:`~eventstate.pyinfra_bridge.operation_bridge.make_bridged_operation`):
through eventstate's engine, named as pyinfra names it, its facts through
eventstate's, ``files.line._inner(...)`` reachable inside it.

Two ways in, as a ``@deploy`` function has (:mod:`.deploy_bridge`):

- Decorated while the bridge is installed: pyinfra's decorator stays
  pyinfra's (it marks the function with its options), but wraps with
  :func:`wrap_operation`, installed in ``pyinfra.api.operation`` by
  :func:`bridge_operation_module`. The operation it makes runs on eventstate
  when called in an eventstate deploy, and as pyinfra's own anywhere else.
  pyinfra's own operation modules keep pyinfra's wrapping: the bridge
  replaces their operations by attribute (:func:`~.operation_bridge.bridge_module`).
- Decorated before (a module imported earlier in the process): pyinfra's
  own wrapper, which knows nothing of eventstate. :func:`bridge_loaded_modules`
  finds those in the loaded modules, by the wrapper's code, and replaces them
  by attribute while the bridge is installed, as pyinfra's own operations are.

Nothing here imports pyinfra -- the modules are given or already loaded --
nor, until called, the modules of the bridge that do.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import CodeType, FunctionType, ModuleType
from typing import Any

from eventstate.context import current
from eventstate.errors import NoDeployContextError

__all__ = ["bridge_loaded_modules", "bridge_operation_module", "wrap_operation"]

_OPERATION = "pyinfra.api.operation"

# Modules that never hold a user's operation: the standard library's, eventstate's,
# and pyinfra's (its operation modules are bridged by module, see activation).
_NOT_SEARCHED = frozenset(sys.stdlib_module_names) | {"eventstate", "pyinfra"}


def wrap_operation(
    func: Callable[..., Any],
    _set_in_op: bool = True,
    *,
    pyinfra_wrap: Callable[..., Callable[..., Any]],
) -> Callable[..., Any]:
    """pyinfra's ``_wrap_operation(func, _set_in_op)``, on eventstate while a deploy runs.

    Called in an eventstate deploy, the operation is eventstate's (made on the
    first such call); called anywhere else -- pyinfra's own engine, later in
    the same process -- pyinfra's wrapper runs it.
    """
    from eventstate.pyinfra_bridge.operation_bridge import make_bridged_operation

    pyinfra_op = pyinfra_wrap(func, _set_in_op=_set_in_op)
    if (func.__module__ or "").partition(".")[0] == "pyinfra":
        return pyinfra_op  # pyinfra's own: bridged by module
    made: list[Callable[..., Any]] = []

    @functools.wraps(func)
    def decorated_func(*args: Any, **kwargs: Any) -> Any:
        try:
            current()
        except NoDeployContextError:
            return pyinfra_op(*args, **kwargs)
        if not made:
            made.append(make_bridged_operation(pyinfra_op, set_in_op=_set_in_op))
        return made[0](*args, **kwargs)

    decorated_func._inner = func  # type: ignore[attr-defined]  # as pyinfra's
    return decorated_func


def bridge_operation_module(module: ModuleType) -> dict[str, Any]:
    """Make ``pyinfra.api.operation``'s wrapping :func:`wrap_operation`, in place.

    Returns the original by attribute name, to put back.
    """
    originals = {"_wrap_operation": module._wrap_operation}
    module._wrap_operation = functools.partial(  # type: ignore[attr-defined]
        wrap_operation, pyinfra_wrap=originals["_wrap_operation"]
    )
    return originals


def _pyinfra_wrapper_code(module: ModuleType) -> CodeType | None:
    # The code of the functions pyinfra's _wrap_operation makes: what tells its
    # operations from any other callable with an ``_inner`` (deploy functions have one).
    wrap = module.__dict__.get("_wrap_operation")
    wrap = getattr(wrap, "keywords", {}).get("pyinfra_wrap", wrap)  # bridged already
    for constant in getattr(getattr(wrap, "__code__", None), "co_consts", ()):
        if isinstance(constant, CodeType) and constant.co_name == "decorated_func":
            return constant
    return None


def bridge_loaded_modules() -> list[tuple[ModuleType, dict[str, Any]]]:
    """Replace, in every loaded module of the user's, pyinfra operations decorated before
    the bridge was installed by bridged ones, in place.

    Returns each module changed with its originals by attribute name, to put back.
    """
    operation_module = sys.modules.get(_OPERATION)
    code = None if operation_module is None else _pyinfra_wrapper_code(operation_module)
    if code is None:
        return []  # pyinfra's decorator never ran: no operation of it exists
    from eventstate.pyinfra_bridge.operation_bridge import bridged_operation

    replaced: list[tuple[ModuleType, dict[str, Any]]] = []
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if name.partition(".")[0] in _NOT_SEARCHED or not isinstance(namespace, dict):
            continue
        originals = {
            key: value
            for key, value in list(namespace.items())
            if type(value) is FunctionType and value.__code__ is code
        }
        if originals:
            for key, value in originals.items():
                namespace[key] = bridged_operation(value)
            replaced.append((module, originals))
    return replaced
