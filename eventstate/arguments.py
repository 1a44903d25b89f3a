"""Global operation arguments (``_sudo``, ``_retries``...), parsed once per call.

pyinfra pops these keywords on every call for every host and checks their
types through ``typing.get_type_hints`` each time; here the table of
arguments is built once, and a call costs a dict walk. Values come, in order
of preference, from the call, the host's data (``host.data["_sudo"]``) and
the config.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

import attrs

from eventstate.commands import HiddenValue
from eventstate.connectors.base import CommandOptions
from eventstate.errors import OperationArgumentError

if TYPE_CHECKING:
    from eventstate.config import Config
    from eventstate.host import Host

__all__ = [
    "ARGUMENTS",
    "AllArguments",
    "ArgumentsCache",
    "ArgumentsContext",
    "CallArguments",
    "GlobalArguments",
    "OperationArgumentError",
    "pop_global_arguments",
    "resolve_global_arguments",
]


#: The config settings the arguments' defaults read (filled by ``_config`` below).
_CONFIG_READ: list[str] = []


def _config(key: str) -> Callable[[Config], Any]:
    _CONFIG_READ.append(key)
    return lambda config: getattr(config, key)


def _constant(value: Any) -> Callable[[Config], Any]:
    return lambda config: value


# ``isinstance(value, Callable)`` works; the checker sees a special form, not a type.
_CALLABLE = cast(type, Callable)

# keyword -> (attribute, default from config, accepted types)
ARGUMENTS: Mapping[str, tuple[str, Callable[[Config], Any], tuple[type, ...]]] = {
    "name": ("name", _constant(None), (str,)),
    "_sudo": ("sudo", _config("SUDO"), (bool,)),
    "_sudo_user": ("sudo_user", _config("SUDO_USER"), (str,)),
    "_sudo_password": ("sudo_password", _config("SUDO_PASSWORD"), (str, HiddenValue)),
    "_use_sudo_login": ("use_sudo_login", _config("USE_SUDO_LOGIN"), (bool,)),
    "_preserve_sudo_env": ("preserve_sudo_env", _config("PRESERVE_SUDO_ENV"), (bool,)),
    "_su_user": ("su_user", _config("SU_USER"), (str,)),
    "_use_su_login": ("use_su_login", _config("USE_SU_LOGIN"), (bool,)),
    "_preserve_su_env": ("preserve_su_env", _config("PRESERVE_SU_ENV"), (bool,)),
    "_su_shell": ("su_shell", _config("SU_SHELL"), (str, bool)),
    "_su_password": ("su_password", _config("SU_PASSWORD"), (str, HiddenValue)),
    "_doas": ("doas", _config("DOAS"), (bool,)),
    "_doas_user": ("doas_user", _config("DOAS_USER"), (str,)),
    "_dzdo": ("dzdo", _config("DZDO"), (bool,)),
    "_dzdo_user": ("dzdo_user", _config("DZDO_USER"), (str,)),
    "_stdin": ("stdin", _constant(None), (str, bytes, list, tuple)),
    "_get_pty": ("get_pty", _constant(False), (bool,)),
    "_env": ("env", _constant(None), (dict,)),
    "_chdir": ("chdir", _constant(None), (str,)),
    "_timeout": ("timeout", _config("TIMEOUT"), (int, float)),
    "_shell_executable": ("shell_executable", _config("SHELL"), (str,)),
    "_temp_dir": ("temp_dir", _config("TEMP_DIR"), (str,)),
    "_success_exit_codes": ("success_exit_codes", _constant((0,)), (list, tuple, set)),
    "_ignore_errors": ("ignore_errors", _config("IGNORE_ERRORS"), (bool,)),
    "_continue_on_error": ("continue_on_error", _constant(False), (bool,)),
    "_run_once": ("run_once", _constant(False), (bool,)),
    "_serial": ("serial", _constant(False), (bool,)),
    "_parallel": ("parallel", _constant(0), (int,)),
    "_retries": ("retries", _config("RETRY"), (int,)),
    "_retry_delay": ("retry_delay", _config("RETRY_DELAY"), (int, float)),
    "_retry_until": ("retry_until", _constant(None), (_CALLABLE,)),
    "_if": ("if_", _constant(None), (_CALLABLE, list)),
}


class AllArguments(TypedDict, total=False):
    """The global arguments by keyword, as a dict: pyinfra 3.10's ``AllArguments``.

    What :func:`pop_global_arguments` returns, and the type of
    ``host.current_deploy_kwargs``.
    """

    name: str | None
    _sudo: bool
    _sudo_user: str | None
    _sudo_password: str | None
    _use_sudo_login: bool
    _preserve_sudo_env: bool
    _su_user: str | None
    _use_su_login: bool
    _preserve_su_env: bool
    _su_shell: str | bool | None
    _doas: bool
    _doas_user: str | None
    _stdin: str | bytes | list[str] | tuple[str, ...] | None
    _get_pty: bool
    _env: Mapping[str, str]
    _chdir: str | None
    _timeout: float | None
    _shell_executable: str
    _success_exit_codes: tuple[int, ...]
    _ignore_errors: bool
    _continue_on_error: bool
    _run_once: bool
    _serial: bool
    _parallel: int
    _retries: int
    _retry_delay: float
    _retry_until: Callable[[dict[str, Any]], bool] | None
    _if: Any


_DEFAULTS = tuple((attribute, default) for attribute, default, _ in ARGUMENTS.values())

#: The arguments every host must agree on: they decide how the op runs across hosts.
EXECUTION_ARGUMENTS = ("_parallel", "_run_once", "_serial")


@attrs.frozen
class GlobalArguments:
    """The global arguments of one operation call on one host, resolved."""

    name: str | None = None
    sudo: bool = False
    sudo_user: str | None = None
    sudo_password: str | HiddenValue | None = attrs.field(default=None, repr=False)
    use_sudo_login: bool = False
    preserve_sudo_env: bool = False
    su_user: str | None = None
    use_su_login: bool = False
    preserve_su_env: bool = False
    su_shell: str | bool | None = None
    su_password: str | HiddenValue | None = attrs.field(default=None, repr=False)
    doas: bool = False
    doas_user: str | None = None
    dzdo: bool = False
    dzdo_user: str | None = None
    stdin: str | bytes | list[str] | tuple[str, ...] | None = attrs.field(default=None, repr=False)
    get_pty: bool = False
    env: Mapping[str, str | HiddenValue] = attrs.field(factory=dict)
    chdir: str | None = None
    timeout: float | None = None
    shell_executable: str = "sh"
    temp_dir: str | None = None
    success_exit_codes: tuple[int, ...] = (0,)
    ignore_errors: bool = False
    continue_on_error: bool = False
    run_once: bool = False
    serial: bool = False
    parallel: int = 0
    retries: int = 0
    retry_delay: float = 5
    retry_until: Callable[[dict[str, Any]], bool] | None = None
    if_: Any = None
    #: How commands run under these arguments, built once.
    options: CommandOptions = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Every CommandOptions field has its argument of the same name here; the two
        # whose values take another form are converted.
        same = {name: getattr(self, name) for name in _SAME_AS_OPTIONS}
        options = CommandOptions(
            **same,
            su_shell=self.su_shell if isinstance(self.su_shell, str) else None,
            stdin=_stdin_bytes(self.stdin),
        )
        object.__setattr__(self, "options", options)

    def by_keyword(self) -> AllArguments:
        """Every argument by its keyword (``{"_sudo": False, ...}``), as pyinfra hands them."""
        return cast(
            AllArguments,
            {keyword: getattr(self, attribute) for keyword, (attribute, _, _) in ARGUMENTS.items()},
        )

    def __getitem__(self, keyword: str) -> Any:
        """An argument by its keyword, as pyinfra's dict of them: ``arguments["_sudo"]``."""
        return getattr(self, ARGUMENTS[keyword][0])

    def execution(self) -> dict[str, Any]:
        """The arguments every host must agree on, by keyword (recorded with the op)."""
        return {"_parallel": self.parallel, "_run_once": self.run_once, "_serial": self.serial}


#: The settings the defaults read, in one call.
_read_config = attrgetter(*_CONFIG_READ)

#: The CommandOptions fields a GlobalArguments gives as they are (read once).
_SAME_AS_OPTIONS = tuple(
    field.name for field in attrs.fields(CommandOptions) if field.name not in ("su_shell", "stdin")
)


def _stdin_bytes(stdin: str | bytes | list[str] | tuple[str, ...] | None) -> bytes | None:
    # As pyinfra's write_stdin: each line ends with a newline.
    if stdin is None or isinstance(stdin, bytes):
        return stdin
    lines = [stdin] if isinstance(stdin, str) else list(stdin)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines).encode()


class ArgumentsContext(Protocol):
    """What :func:`pop_global_arguments` reads of a State (typed so, not as the State above)."""

    @property
    def config(self) -> Config:
        """The run's config: the arguments' defaults."""

    @property
    def interned_arguments(self) -> dict[Any, Any]:
        """The run's resolved arguments, shared between equal calls."""


def pop_global_arguments(
    state: ArgumentsContext, host: Host, kwargs: dict[str, Any]
) -> tuple[AllArguments, list[str]]:
    """Take the global arguments out of ``kwargs`` and resolve them for ``host``: pyinfra 3.10's.

    Each comes, in order of preference, from ``kwargs``, the ``@deploy`` running
    for the host (``host.current_deploy_kwargs``), the host's data and
    ``state.config``.

    Returns:
        Every global argument by keyword, and the keywords ``kwargs`` gave.

    Raises:
        OperationArgumentError: an unknown ``_``-prefixed argument, or a value
            of the wrong type.
    """
    given = [key for key in kwargs if key in ARGUMENTS]
    host_arguments = host.argument_data()
    if host.current_deploy_kwargs:
        host_arguments = {**host_arguments, **host.current_deploy_kwargs}
    arguments = resolve_global_arguments(
        kwargs, state.config, host_arguments, state.interned_arguments
    )
    return arguments.by_keyword(), given


def resolve_global_arguments(
    kwargs: dict[str, Any],
    config: Config,
    host_arguments: Mapping[str, Any],
    interned: dict[Any, GlobalArguments] | None = None,
) -> GlobalArguments:
    """Take the global arguments out of ``kwargs`` and resolve them for ``host``.

    With ``interned`` (one dict per run), equal arguments resolve to one shared
    object: most hosts get the same ones, and a large deploy holds one per
    host-op until it ends.

    Raises:
        OperationArgumentError: an unknown ``_``-prefixed argument, or a value
            of the wrong type.
    """
    unknown = [key for key in kwargs if key.startswith("_") and key not in ARGUMENTS]
    if unknown:
        raise OperationArgumentError(
            f"unknown operation argument {unknown[0]} "
            f"(global arguments are {', '.join(k for k in ARGUMENTS if k != 'name')})"
        )
    values: dict[str, Any] = {}
    for attribute, default in _DEFAULTS:
        value = default(config)
        if value is not None:
            values[attribute] = value
    # Host data may set arguments too (``_sudo`` for one host); the call wins over it.
    for source in (host_arguments, kwargs):
        for keyword in [key for key in source if key in ARGUMENTS]:
            value = source.pop(keyword) if source is kwargs else source[keyword]
            if keyword == "name" and source is not kwargs:
                continue
            attribute, _, types = ARGUMENTS[keyword]
            if value is None:
                values.pop(attribute, None)
                continue
            if not isinstance(value, types):
                raise OperationArgumentError(
                    f"argument {keyword} must be {' or '.join(t.__name__ for t in types)}, "
                    f"not {type(value).__name__}"
                )
            values[attribute] = value
    env = {key: os.environ[key] for key in config.INHERIT_ENV if key in os.environ}
    env.update(config.ENV)
    env.update(values.get("env") or {})
    values["env"] = env
    if "success_exit_codes" in values:
        values["success_exit_codes"] = tuple(values["success_exit_codes"])
    if interned is None:
        return GlobalArguments(**values)
    try:
        key = tuple(sorted((name, _frozen(value)) for name, value in values.items()))
        hash(key)
    except TypeError:  # an unhashable value (a list in _if...): not shared
        return GlobalArguments(**values)
    arguments = interned.get(key)
    if arguments is None:
        arguments = interned[key] = GlobalArguments(**values)
    return arguments


class CallArguments:
    """The global arguments one call gives, resolved for each host it is prepared on.

    ``add_op`` prepares one call on every host; the hosts differ only by their
    data's arguments (``host.data["_sudo"]``), usually none. Resolving takes
    place once per distinct host data, not once per host.

    Args:
        given: The global arguments the call gave, by keyword (known ones only:
            an unknown one was refused on the first host).
        config: The run's config.
        interned: The run's resolved arguments (see :func:`resolve_global_arguments`).
    """

    __slots__ = ("_config", "_given", "_interned", "_resolved")

    def __init__(
        self, given: Mapping[str, Any], config: Config, interned: dict[Any, GlobalArguments]
    ) -> None:
        self._given = dict(given)
        self._config = config
        self._interned = interned
        self._resolved: dict[Any, GlobalArguments] = {}

    def add(self, host_arguments: Mapping[str, Any], arguments: GlobalArguments) -> None:
        """Keep ``arguments`` as what the call resolves to for hosts with ``host_arguments``."""
        key = _host_key(host_arguments)
        if key is not None:
            self._resolved[key] = arguments

    def for_host(self, host_arguments: Mapping[str, Any]) -> GlobalArguments:
        """The call's arguments for a host whose data (and ``@deploy``) give ``host_arguments``.

        Raises:
            OperationArgumentError: a host data value of the wrong type.
        """
        key = _host_key(host_arguments)
        arguments = None if key is None else self._resolved.get(key)
        if arguments is None:
            arguments = resolve_global_arguments(
                dict(self._given), self._config, host_arguments, self._interned
            )
            if key is not None:
                self._resolved[key] = arguments
        return arguments


class ArgumentsCache:
    """Resolved global arguments by what they were resolved from: one per run.

    A deploy file calls each operation once per host, usually with the same
    global arguments on hosts with the same data: the second call on is a
    lookup. What the defaults come from is checked on every lookup -- the
    config settings they read, its ``ENV`` and the inherited environment -- and
    a change (a deploy file's ``config.SUDO = True``) empties the cache.

    Args:
        config: The run's config.
        interned: The run's resolved arguments (see :func:`resolve_global_arguments`).
    """

    __slots__ = ("_config", "_interned", "_resolved", "_settings")

    def __init__(self, config: Config, interned: dict[Any, GlobalArguments]) -> None:
        self._config = config
        self._interned = interned
        self._resolved: dict[Any, GlobalArguments] = {}
        self._settings: Any = None

    def _settings_now(self) -> tuple[Any, ...]:
        config = self._config
        inherit = tuple(config.INHERIT_ENV)
        return (
            _read_config(config),
            tuple(config.ENV.items()),
            inherit,
            tuple(os.environ.get(key) for key in inherit),
        )

    def resolve(self, kwargs: dict[str, Any], host_arguments: Mapping[str, Any]) -> GlobalArguments:
        """:func:`resolve_global_arguments` (``kwargs`` loses its global arguments), remembered.

        Raises:
            OperationArgumentError: as :func:`resolve_global_arguments`.
        """
        keys = sorted(key for key in kwargs if key in ARGUMENTS or key.startswith("_"))
        host_key = _host_key(host_arguments)
        key: Any = None
        if host_key is not None and all(key in ARGUMENTS for key in keys):
            try:
                key = (
                    tuple((name, type(kwargs[name]), _frozen(kwargs[name])) for name in keys),
                    host_key,
                )
                hash(key)
            except TypeError:  # a value that cannot be compared so (a list of _if checks)
                key = None
        if key is None:
            return resolve_global_arguments(kwargs, self._config, host_arguments, self._interned)
        settings = self._settings_now()
        if settings != self._settings:
            self._resolved.clear()
            self._settings = settings
        arguments = self._resolved.get(key)
        if arguments is None:
            arguments = self._resolved[key] = resolve_global_arguments(
                kwargs, self._config, host_arguments, self._interned
            )
        else:
            for name in keys:
                del kwargs[name]
        return arguments


def _host_key(host_arguments: Mapping[str, Any]) -> Any:
    # Equal host arguments resolve equally; None for values that cannot be compared so.
    if not host_arguments:
        return ()
    try:
        key = tuple(
            sorted((name, type(value), _frozen(value)) for name, value in host_arguments.items())
        )
        hash(key)
    except TypeError:
        return None
    return key


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value
