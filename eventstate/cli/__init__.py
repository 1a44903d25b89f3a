"""The ``eventstate`` command line.

Commands parse their options, call the library, and print. A user's mistake
-- a missing file, a bad option, an unknown run -- is one line on stderr and
exit status 2; a deploy that ran but failed or aborted exits 1. ``--debug``
shows tracebacks.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import click

from eventstate.cli.base import fail
from eventstate.cli.working_directory import import_from_working_directory
from eventstate.errors import UsageError

__all__ = ["main"]

#: The collector's thresholds in a command's process (Python's are 700, 10, 10). A
#: deploy makes objects by the hundred thousand -- events, rows, views -- and few
#: cycles: with Python's, collecting took 0.16 s of a 100-host x 100-op deploy's 1.9 s
#: of CPU (measured); with these, and start-up's objects frozen, 0.04 s.
COLLECTOR_THRESHOLDS = (10_000, 10, 10)

_collector_tuned = False


def _tune_collector() -> None:
    """Once per process: freeze what start-up made (modules, classes, the codec's
    hooks -- alive until exit, so never traversed by a collection again) and collect
    the young less often (:data:`COLLECTOR_THRESHOLDS`)."""
    global _collector_tuned
    if not _collector_tuned:
        _collector_tuned = True
        gc.freeze()
        gc.set_threshold(*COLLECTOR_THRESHOLDS)


#: Each command: the module that defines it, and its name there. Loaded when named, so
#: that ``eventstate show`` does not import the deploy engine (start-up is most of a read).
_COMMANDS = {
    "deploy": ("eventstate.cli.deploy", "deploy"),
    "facts": ("eventstate.cli.adhoc", "facts"),
    "exec": ("eventstate.cli.adhoc", "exec_"),
    "runs": ("eventstate.cli.audit", "runs"),
    "show": ("eventstate.cli.audit", "show"),
    "events": ("eventstate.cli.audit", "events"),
    "export": ("eventstate.cli.audit", "export"),
    "import": ("eventstate.cli.audit", "import_"),
    "state": ("eventstate.cli.audit", "state"),
    "step": ("eventstate.cli.audit", "step"),
    "diff": ("eventstate.cli.audit", "diff"),
    "verify": ("eventstate.cli.audit", "verify"),
    "head": ("eventstate.cli.audit", "head"),
    "rerun": ("eventstate.cli.audit", "rerun"),
    "timeline": ("eventstate.cli.audit", "timeline"),
    "report": ("eventstate.cli.report", "report"),
    "snapshot": ("eventstate.cli.audit", "snapshot"),
    "watch": ("eventstate.cli.watch", "watch"),
    "copy": ("eventstate.cli.copy", "copy"),
}


class _LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name, each module imported when its command is first named."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in _COMMANDS:
                raise KeyError(name)
            module, attribute = _COMMANDS[name]
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*_COMMANDS, *self._loaded]))

    def __len__(self) -> int:
        return len(set(_COMMANDS) | set(self._loaded))


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # A command's own usage mistakes (options that contradict...) are one line;
        # the library's errors are turned so by each command's ``user_errors``.
        try:
            return super().invoke(ctx)
        except UsageError as error:
            fail(str(error))


@click.group(cls=_Commands)
@click.version_option(package_name="eventstate")
def main() -> None:
    """eventstate: deploys recorded as an event log you can audit and replay."""
    _tune_collector()
    import_from_working_directory()  # before any command loads the user's files


main.commands = _LazyCommands()
