"""Reusable deploys: pyinfra 3.10's ``@deploy`` decorator and ``add_deploy``.

A deploy function groups operations under a name (``"Install nginx | apt.packages"``
in the op's names), with global arguments for all of them (``web_setup(_sudo=True)``;
an op's own arguments win) and data defaults (read through ``host.data`` below
every other data layer while the deploy runs). Deploys nest: names join with
`` | ``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from eventstate.arguments import ARGUMENTS
from eventstate.context import current, using
from eventstate.errors import OperationArgumentError
from eventstate.host import Host
from eventstate.operation import target_hosts
from eventstate.state import State

__all__ = ["add_deploy", "deploy"]

F = TypeVar("F", bound=Callable[..., Any])


def deploy(
    name: str | None = None, data_defaults: dict[str, Any] | None = None
) -> Callable[[F], F]:
    """Make a function a deploy: its operations run under ``name`` (the function's by default).

    Example:
        >>> @deploy("Install nginx")
        ... def install_nginx():
        ...     ...

    Raises:
        OperationArgumentError: used as ``@deploy`` rather than ``@deploy()``.
    """
    if name is not None and not isinstance(name, str):
        raise OperationArgumentError(
            "the `deploy` decorator must be called: @deploy() or @deploy('name')"
        )

    def decorator(func: F) -> F:
        deploy_name = name or func.__name__

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            _, host = current()
            arguments = {key: kwargs.pop(key) for key in list(kwargs) if key in ARGUMENTS}
            unknown = [key for key in kwargs if key.startswith("_")]
            if unknown:
                raise OperationArgumentError(f"unknown deploy argument {unknown[0]}")
            # The outer deploy's arguments go on, under this one's.
            outer = host.current_deploy_kwargs or {}
            with host.deploy(deploy_name, {**outer, **arguments}, data_defaults):
                return func(*args, **kwargs)

        run._inner = func  # type: ignore[attr-defined]  # as pyinfra's
        return run  # type: ignore[return-value]

    return decorator


def add_deploy(
    state: State,
    deploy_func: Callable[..., Any],
    *args: Any,
    host: Host | Iterable[Host] | None = None,
    **kwargs: Any,
) -> None:
    """Run ``deploy_func(*args, **kwargs)`` for every active host (or ``host``), in API mode."""
    for deploy_host in target_hosts(state, host):
        with using(state, deploy_host):
            deploy_func(*args, **dict(kwargs))
