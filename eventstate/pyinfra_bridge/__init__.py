"""Run pyinfra's operations and facts on eventstate: ``pip install 'eventstate[pyinfra]'``.

A pyinfra operation called in an eventstate deploy becomes an eventstate
operation (:func:`bridged_operation`) whose body runs pyinfra's own generator
with pyinfra's context pointed at adapters over our host and State
(:mod:`~eventstate.pyinfra_bridge.adapters`); its facts are gathered by our
fact machinery (:func:`adapted_fact`), and its commands translated to ours
(:func:`translate_command`). ``eventstate deploy`` installs the bridge while
a deploy file runs (:func:`bridge_pyinfra_imports`), so a deploy's
``from pyinfra.operations import files`` reaches it unchanged.

The package's names load lazily: importing it (or :mod:`.activation`, which
the core uses) loads no pyinfra; asking for a name that needs it without
pyinfra installed is a :class:`~eventstate.errors.PyinfraNotInstalledError`
saying what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eventstate.pyinfra_bridge.requirement import require_pyinfra

_PUBLIC: dict[str, str] = {
    "BridgeSession": "eventstate.pyinfra_bridge.adapters",
    "ConfigAdapter": "eventstate.pyinfra_bridge.adapters",
    "HostAdapter": "eventstate.pyinfra_bridge.adapters",
    "PyinfraFact": "eventstate.pyinfra_bridge.fact_adapter",
    "StateAdapter": "eventstate.pyinfra_bridge.adapters",
    "adapted_fact": "eventstate.pyinfra_bridge.fact_adapter",
    "bridge_module": "eventstate.pyinfra_bridge.operation_bridge",
    "bridge_pyinfra_imports": "eventstate.pyinfra_bridge.activation",
    "bridged_operation": "eventstate.pyinfra_bridge.operation_bridge",
    "get_pyinfra_fact": "eventstate.pyinfra_bridge.fact_adapter",
    "pointed_at": "eventstate.pyinfra_bridge.adapters",
    "session_for": "eventstate.pyinfra_bridge.adapters",
    "translate_command": "eventstate.pyinfra_bridge.command_translation",
    "use_session": "eventstate.pyinfra_bridge.adapters",
}

if TYPE_CHECKING:
    from eventstate.pyinfra_bridge.activation import bridge_pyinfra_imports
    from eventstate.pyinfra_bridge.adapters import (
        BridgeSession,
        ConfigAdapter,
        HostAdapter,
        StateAdapter,
        pointed_at,
        session_for,
        use_session,
    )
    from eventstate.pyinfra_bridge.command_translation import translate_command
    from eventstate.pyinfra_bridge.fact_adapter import (
        PyinfraFact,
        adapted_fact,
        get_pyinfra_fact,
    )
    from eventstate.pyinfra_bridge.operation_bridge import bridge_module, bridged_operation

__all__ = [
    "BridgeSession",
    "ConfigAdapter",
    "HostAdapter",
    "PyinfraFact",
    "StateAdapter",
    "adapted_fact",
    "bridge_module",
    "bridge_pyinfra_imports",
    "bridged_operation",
    "get_pyinfra_fact",
    "pointed_at",
    "session_for",
    "translate_command",
    "use_session",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module != "eventstate.pyinfra_bridge.activation":
        require_pyinfra()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
