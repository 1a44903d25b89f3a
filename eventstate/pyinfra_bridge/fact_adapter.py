"""pyinfra's facts, gathered by eventstate: each pyinfra ``FactBase`` as one of our Facts.

The adapted fact's command is the pyinfra fact's (``command()``, wrapped in
pyinfra's ``command -v`` guard when the fact ``requires_command``), its
parser the fact's ``process(lines)``, its default the fact's ``default()``.
Asked through :meth:`eventstate.state.State.get_fact`, it is recorded as a
``CommandExecuted``, cached per host and arguments for the run, and a failure
fails the host unless the op ignores errors -- as pyinfra does, output the fact's
``process`` refuses (``FactProcessError``) too.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, ClassVar

from pyinfra.api import command as pyinfra_command
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase, ShortFactBase

from eventstate.arguments import ARGUMENTS, resolve_global_arguments
from eventstate.commands import StringCommand
from eventstate.facts.base import Fact
from eventstate.host import Host
from eventstate.pyinfra_bridge.command_translation import translate_part
from eventstate.state import State

__all__ = ["MISSING_COMMAND_MARKER", "PyinfraFact", "adapted_fact", "get_pyinfra_fact"]

logger = logging.getLogger("eventstate")

#: What pyinfra's guard prints when the command a fact requires is not on the host.
MISSING_COMMAND_MARKER = "##PYINFRA_NOCMD##"


def _called(attribute: Any, kwargs: dict[str, Any]) -> Any:
    # pyinfra's _make_command: a method is called with the fact's arguments, a
    # string attribute is the command as it is.
    return attribute(**kwargs) if callable(attribute) else attribute


def _ours(command: Any) -> str | StringCommand:
    if isinstance(command, pyinfra_command.StringCommand):
        translated: StringCommand = translate_part(command)
        return translated
    return str(command)


class PyinfraFact(Fact):
    """A pyinfra fact as eventstate's: made by :func:`adapted_fact`, one class per fact."""

    pyinfra_fact: ClassVar[type[FactBase[Any]]]

    def __init__(self) -> None:
        # One pyinfra fact per gathering, as pyinfra's: many keep what command() was
        # given (self.path...) for process() to read.
        self.fact = self.pyinfra_fact()

    def unguarded_command(self, **kwargs: Any) -> str | StringCommand:
        """The pyinfra fact's own command, as ours (what pyinfra's fixtures show)."""
        return _ours(_called(self.fact.command, kwargs))

    def required_command(self, **kwargs: Any) -> str | None:
        """The command the fact needs on the host (pyinfra's ``requires_command``), or None."""
        requires = _called(self.fact.requires_command, kwargs)
        return str(requires) if requires else None

    def command(self, *args: Any, **kwargs: Any) -> str | StringCommand:
        """The pyinfra fact's command, guarded when it requires a command."""
        command = self.unguarded_command(**kwargs)
        requires = self.required_command(**kwargs)
        if not requires:
            return command
        # pyinfra's own guard, word for word: "binary absent" is not "no output".
        return StringCommand(
            "if",
            "command",
            "-v",
            requires,
            ">/dev/null",
            "2>&1;",
            "then",
            "(",
            command,
            ");",
            "else",
            "echo",
            f"'{MISSING_COMMAND_MARKER}';",
            "fi",
        )

    def process(self, lines: list[str]) -> Any:
        """The pyinfra fact's value; its default when the command it requires is missing."""
        if lines == [MISSING_COMMAND_MARKER]:
            return self.default()
        return self.fact.process(lines)

    def default(self) -> Any:
        """The pyinfra fact's default."""
        return self.fact.default()


_adapted: dict[type[Any], type[PyinfraFact]] = {}


def adapted_fact(fact_class: type[FactBase[Any]]) -> type[PyinfraFact]:
    """The eventstate Fact gathering the pyinfra fact ``fact_class`` (one class per fact)."""
    adapted = _adapted.get(fact_class)
    if adapted is None:
        adapted = type(
            fact_class.__name__,
            (PyinfraFact,),
            {
                "name": fact_class.name,
                "pyinfra_fact": fact_class,
                "__module__": __name__,
                "__doc__": f"pyinfra's {fact_class.name}, gathered by eventstate.",
            },
        )
        _adapted[fact_class] = adapted
    return adapted


def get_pyinfra_fact(
    state: State, host: Host, fact_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``host.get_fact(fact_class, *args, **kwargs)`` as pyinfra's code asks it, gathered by
    ``state``: global arguments (``_sudo``...) taken out, the rest bound to the fact's
    ``command`` with its defaults (pyinfra's ``getcallargs``), so that one question has
    one cache entry however it is asked."""
    if isinstance(fact_class, type) and issubclass(fact_class, ShortFactBase):
        value = get_pyinfra_fact(state, host, fact_class.fact, args, kwargs)
        return fact_class().process_data(value)
    fact = fact_class()
    global_arguments = {key: kwargs[key] for key in kwargs if key in ARGUMENTS}
    fact_kwargs = {key: value for key, value in kwargs.items() if key not in ARGUMENTS}
    if args or fact_kwargs:
        fact_kwargs = inspect.getcallargs(fact.command, *args, **fact_kwargs)
        fact_kwargs.pop("self", None)
    if fact.shell_executable:
        global_arguments["_shell_executable"] = fact.shell_executable
    try:
        return state.get_fact(host, adapted_fact(fact_class), **fact_kwargs, **global_arguments)
    except FactProcessError as error:
        # As pyinfra: output the fact cannot read fails the host (unless errors are
        # ignored), and the fact reads as its default.
        ignored = _ignores_errors(state, host, global_arguments)
        log = logger.warning if ignored else logger.error
        log(f"[{host.name}] could not process fact: {fact_class.name} ({error})")
        if not ignored:
            state.fail_hosts([host])
        return fact.default()


def _ignores_errors(state: State, host: Host, given: dict[str, Any]) -> bool:
    """Whether a fact asked with ``given`` global arguments ignores errors: the call's
    ``_ignore_errors``, else the running op's, else the host data's and the config's."""
    if "_ignore_errors" in given:
        return bool(given["_ignore_errors"])
    arguments = host.current_op_arguments
    if arguments is None:
        assigned = host.assigned_op_global_arguments or {}
        arguments = resolve_global_arguments(
            {key: value for key, value in assigned.items() if key == "_ignore_errors"},
            state.config,
            host.argument_data(),
        )
    return bool(arguments.ignore_errors)
