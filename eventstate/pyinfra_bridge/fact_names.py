"""pyinfra's facts by the names its command line takes: ``server.LinuxName``, ``files.File``.

``eventstate facts`` looks a fact up here when it is not one of ours; the
names are pyinfra's (the module under ``pyinfra.facts``, then the class), so
``pyinfra INVENTORY fact server.LinuxName`` is ``eventstate facts INVENTORY
server.LinuxName``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import pyinfra.facts
from pyinfra.api.facts import FactBase, ShortFactBase

__all__ = ["is_pyinfra_fact", "pyinfra_fact", "pyinfra_fact_command", "pyinfra_fact_names"]

_PREFIX = "pyinfra.facts."


def is_pyinfra_fact(value: Any) -> bool:
    """Whether ``value`` is a pyinfra fact class (a ``FactBase`` or a ``ShortFactBase``)."""
    return (
        isinstance(value, type)
        and issubclass(value, (FactBase, ShortFactBase))
        and value not in (FactBase, ShortFactBase)
    )


def pyinfra_fact(name: str) -> type[Any] | None:
    """pyinfra's fact called ``name`` -- ``server.LinuxName``, or its whole path
    ``pyinfra.facts.server.LinuxName`` -- or None when pyinfra has no such fact."""
    module_name, _, class_name = name.rpartition(".")
    if not module_name or not class_name:
        return None
    if not module_name.startswith(_PREFIX):
        module_name = _PREFIX + module_name
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError:  # a parent package is missing: pyinfra.facts.a.b
        return None
    value = getattr(importlib.import_module(module_name), class_name, None)
    return value if is_pyinfra_fact(value) else None


def pyinfra_fact_command(fact_class: type[Any]) -> Callable[..., Any]:
    """The ``command`` method whose arguments a pyinfra fact takes (a short fact's
    underlying fact's), bound to a new instance: what arguments are checked against."""
    while issubclass(fact_class, ShortFactBase):
        fact_class = fact_class.fact
    command: Callable[..., Any] = fact_class().command
    return command


def pyinfra_fact_names() -> list[str]:
    """Every fact pyinfra ships, by its command-line name (``server.LinuxName``), sorted."""
    names: set[str] = set()
    for found in pkgutil.iter_modules(pyinfra.facts.__path__):
        try:
            module = importlib.import_module(_PREFIX + found.name)
        except Exception:  # a module that cannot load offers no facts
            continue
        for class_name, value in inspect.getmembers(module, is_pyinfra_fact):
            if value.__module__ == module.__name__ and not class_name.startswith("_"):
                names.add(f"{found.name}.{class_name}")
    return sorted(names)
