"""pyinfra's ``@deploy`` under the bridge: a pyinfra deploy function runs as eventstate's deploy.

pyinfra's decorator (``pyinfra.api.deploy.deploy``) stays pyinfra's: it sets
the function's ``deploy_name`` (the name given, or the function's) and
``deploy_data``, then wraps it with the module's ``_wrap_deploy``. While a
deploy file runs, :func:`bridge_deploy_module` points that wrapping at
eventstate's host: the call's global arguments (``install(_sudo=True)``) are
taken out over the outer deploy's, and the function runs inside
:meth:`eventstate.host.Host.deploy` -- so its operations are named
``"<deploy> | files.line"`` (nested: ``"<outer> | <inner> | ..."``), take
those arguments under their own, and read ``deploy_data`` through
``host.data`` below every other layer, as pyinfra's. A function decorated
before the bridge was installed still wraps with pyinfra's own code, which
asks the module's ``pop_global_arguments``: that is replaced too.

An operation's order is made from the lines of the deploy files on its call
stack; pyinfra counts every file's frame after the deploy file's but its own,
so the lines inside a deploy function count wherever it is defined. Here the
function's file counts while it runs: a deploy imported from a module orders
its operations by their lines in it, as pyinfra does.

Nothing here imports pyinfra: the module is given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from eventstate.arguments import ARGUMENTS
from eventstate.context import current
from eventstate.errors import NoDeployContextError
from eventstate.host import Host
from eventstate.state import State

__all__ = ["bridge_deploy_module", "deploy_global_arguments", "wrap_deploy"]


def deploy_global_arguments(state: Any, host: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """pyinfra's ``pop_global_arguments`` for a deploy call, on eventstate's host.

    Takes the global arguments given (by pyinfra's keywords) out of ``kwargs``
    and returns them over the running deploy's, with the keywords given --
    only those: an operation resolves the rest (host data, config) itself.
    Any other ``_`` keyword stays for the function, as in pyinfra.
    """
    _, current_host = current()
    given = {key: kwargs.pop(key) for key in list(kwargs) if key in ARGUMENTS}
    outer = current_host.current_deploy_kwargs or {}
    return {**outer, **given}, list(given)


@contextmanager
def _lines_counted(state: State, func: Callable[..., Any]) -> Iterator[None]:
    # The deploy function's file joins the deploy files while it runs (see the module).
    filename = getattr(getattr(func, "__code__", None), "co_filename", None)
    files = state.deploy_files
    if state.deploy_filename is None or filename is None or not isinstance(files, set):
        yield
        return
    added = filename not in files
    files.add(filename)
    try:
        yield
    finally:
        if added:
            files.discard(filename)


def _run_deploy(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    state: State
    host: Host
    state, host = current()
    arguments, _ = deploy_global_arguments(state, host, kwargs)
    name = getattr(func, "deploy_name", None) or func.__name__
    data = getattr(func, "deploy_data", None)
    with host.deploy(name, arguments, data), _lines_counted(state, func):
        return func(*args, **kwargs)


def wrap_deploy(
    func: Callable[..., Any], pyinfra_wrap: Callable[[Callable[..., Any]], Any]
) -> Callable[..., Any]:
    """pyinfra's ``_wrap_deploy(func)``, on eventstate's host while a deploy runs.

    Called outside eventstate's deploy (pyinfra's own engine, later in the
    same process), the function runs as pyinfra's wrapper runs it.
    """
    pyinfra_wrapped = pyinfra_wrap(func)

    @functools.wraps(func)
    def decorated_func(*args: Any, **kwargs: Any) -> Any:
        try:
            current()
        except NoDeployContextError:
            return pyinfra_wrapped(*args, **kwargs)
        return _run_deploy(func, args, kwargs)

    decorated_func._inner = func  # type: ignore[attr-defined]  # as pyinfra's
    return decorated_func


def bridge_deploy_module(module: ModuleType) -> dict[str, Any]:
    """Point ``pyinfra.api.deploy``'s wrapping at eventstate's host, in place.

    Returns the originals by attribute name, to put back.
    """
    originals = {
        "_wrap_deploy": module._wrap_deploy,
        "pop_global_arguments": module.pop_global_arguments,
    }
    pyinfra_wrap = originals["_wrap_deploy"]
    module._wrap_deploy = functools.partial(wrap_deploy, pyinfra_wrap=pyinfra_wrap)  # type: ignore[attr-defined]
    module.pop_global_arguments = deploy_global_arguments  # type: ignore[attr-defined]
    return originals
