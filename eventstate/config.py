"""Deploy configuration: pyinfra 3.10's ``Config``, typed; and ``TIMEOUT``, ``MAX_OUTPUT``.

Every setting is a typed attribute with pyinfra's default. A name that is not
a setting is an error -- given to ``Config(...)``, assigned (``config.SUDOO =
True``) or found in a recorded snapshot -- where pyinfra accepts any name and
ignores it. Values are checked when given and when assigned, so a deploy file
can still change its config (``config.SUDO = True``), within the types.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from eventstate.commands import MASK, HiddenValue
from eventstate.errors import ConfigError, PyinfraVersionError
from eventstate.version import PYINFRA_VERSION

__all__ = ["DEFAULTS", "Config"]

# A setting whose name holds one of these is a secret: a run records only that it was set.
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")

Check = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _is_secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS)


def _shown(name: str, value: Any) -> str:
    # A wrong value is named in the error, unless it may be a secret.
    if _is_secret(name) or name == "ENV":
        return f"a value of type {type(value).__name__}"
    return f"{value!r}"


def _check(what: str, accepts: Callable[[Any], bool]) -> Check:
    """A validator: ``accepts(value)`` or a ConfigError saying the setting must be ``what``."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not accepts(value):
            raise ConfigError(
                f"config {attribute.name} must be {what}, not {_shown(attribute.name, value)}"
            )

    return check


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_names(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(name, str) for name in value)


def _strings(value: Any) -> Any:
    # A list of names becomes a tuple (a snapshot holds lists); a string is refused, not split.
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _environment(value: Any) -> Any:
    # Copied: changing the mapping given never changes the config.
    return dict(value) if isinstance(value, Mapping) else value


_bool = _check("True or False", lambda v: isinstance(v, bool))
_text = _check("a non-empty string", _is_text)
_text_or_none = _check("a string or None", lambda v: v is None or isinstance(v, str))


def _pyinfra_version_met(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # pyinfra's check_pyinfra_version, against the pyinfra release eventstate follows.
    _text_or_none(_, attribute, value)
    if not value:
        return
    try:
        required = SpecifierSet(value)
    except InvalidSpecifier:
        raise ConfigError(
            f"config {attribute.name} must be a version specifier (>=3.5), not {value!r}"
        ) from None
    if Version(PYINFRA_VERSION) not in required:
        raise PyinfraVersionError(
            f"pyinfra version requirement not met (requires {value}, running {PYINFRA_VERSION})"
        )


_secret_or_none = _check(
    "a string, a Secret or None", lambda v: v is None or isinstance(v, (str, HiddenValue))
)
_count = _check("a whole number >= 0", lambda v: _is_int(v) and v >= 0)
_seconds = _check("a number of seconds >= 0", lambda v: _is_number(v) and v >= 0)
_positive_seconds = _check("a number of seconds > 0", lambda v: _is_number(v) and v > 0)
_limit_seconds = _check(
    "a number of seconds > 0, or None for no limit",
    lambda v: v is None or (_is_number(v) and v > 0),
)
_percent = _check(
    "a percentage from 0 to 100, or None", lambda v: v is None or (_is_number(v) and 0 <= v <= 100)
)
_names = _check("a list of names", _is_names)
_packages = _check(
    "a requirements file, a list of requirements, or None",
    lambda v: v is None or isinstance(v, str) or _is_names(v),
)
_su_shell = _check("a shell (a non-empty string), or False", lambda v: v is False or _is_text(v))


def _env(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Its own check: the error names the variable, never its value (often a token).
    if not isinstance(value, dict):
        raise ConfigError(
            f"config ENV must be a mapping of names to strings, not {_shown('ENV', value)}"
        )
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise ConfigError(
                f"config ENV must map names to strings: ENV[{name!r}] is {_shown('ENV', item)}"
            )


def _unknown(names: Iterable[str], what: str) -> ConfigError:
    """The error for names that are not settings: each named, then the settings, closest first."""
    unknown = sorted(names)
    known = sorted(_SETTINGS)
    close: list[str] = []
    for name in unknown:
        close += [m for m in difflib.get_close_matches(name, known, n=3) if m not in close]
    guess = f" (did you mean {' or '.join(close)}?)" if close else ""
    listed = ", ".join([*close, *(name for name in known if name not in close)])
    return ConfigError(f"{what} {', '.join(unknown)}{guess}; the settings are {listed}")


# on_setattr NO_OP: attrs' own assignment hooks cannot be combined with our __setattr__,
# which converts and checks every assignment itself (and refuses unknown names).
@attrs.define(kw_only=True, repr=False, on_setattr=attrs.setters.NO_OP)
class Config:
    """The settings of a deploy: pyinfra 3.10's, with its defaults, and ours (TIMEOUT, MAX_OUTPUT).

    Given by name; a name that is not a setting is a :class:`ConfigError`, and so
    is a value of the wrong type. Settings may be changed by assignment (a
    deploy file's ``config.SUDO = True``); the value is checked the same way.

    Example:
        >>> Config(PARALLEL=10, TIMEOUT=30).PARALLEL
        10
        >>> Config(PARALLEL=10, SUDO_PASSWORD="hunter2")
        Config(PARALLEL=10, SUDO_PASSWORD='***')
    """

    # Values are checked on every assignment (``__setattr__``, __init__'s included), and
    # once more by attrs at the end of __init__: a few microseconds per Config.

    #: Abort when strictly more than this percentage of hosts has failed; None: never.
    #: (pyinfra types it int, and compares it as any number: 33.3 works.)
    FAIL_PERCENT: float | None = attrs.field(default=None, validator=_percent)
    #: Seconds to wait for a connection to a host.
    CONNECT_TIMEOUT: float = attrs.field(default=10, validator=_positive_seconds)
    #: Ours: the default per-command time limit in seconds (pyinfra has only the per-op
    #: ``_timeout``); None: no limit.
    TIMEOUT: float | None = attrs.field(default=None, validator=_limit_seconds)
    #: The remote directory for temporary files; None: the host's ``TMPDIR``, else
    #: ``DEFAULT_TEMP_DIR``.
    TEMP_DIR: str | None = attrs.field(default=None, validator=_text_or_none)
    #: The remote temporary directory when neither ``TEMP_DIR`` nor ``TMPDIR`` is set.
    DEFAULT_TEMP_DIR: str = attrs.field(default="/tmp", validator=_text)
    #: Hosts worked on at once; 0: ``min(cpus * 20, hosts, MAX_PARALLEL)``, set by ``State.init``.
    PARALLEL: int = attrs.field(default=0, validator=_count)
    #: The pyinfra versions the deploy needs (a PEP 440 specifier), checked as pyinfra
    #: checks it, against the pyinfra release whose semantics eventstate follows
    #: (``eventstate.version.PYINFRA_VERSION``, 3.10.0): a ``PyinfraVersionError``.
    REQUIRE_PYINFRA_VERSION: str | None = attrs.field(default=None, validator=_pyinfra_version_met)
    #: The packages the deploy needs: a requirements file or a list of PEP 508
    #: requirements (recorded, not checked).
    REQUIRE_PACKAGES: str | Sequence[str] | None = attrs.field(
        default=None, converter=_strings, validator=_packages
    )
    #: Switch to this user with ``su`` to run commands; None: do not.
    SU_USER: str | None = attrs.field(default=None, validator=_text_or_none)
    #: Run ``su`` with a login shell (``su -l``).
    USE_SU_LOGIN: bool = attrs.field(default=False, validator=_bool)
    #: The shell ``su`` runs commands in; False: the user's own shell.
    SU_SHELL: str | Literal[False] = attrs.field(default=False, validator=_su_shell)
    #: Keep the caller's environment through ``su`` (``su -m``).
    PRESERVE_SU_ENV: bool = attrs.field(default=False, validator=_bool)
    #: The password ``su`` asks for (a secret: never recorded nor shown).
    SU_PASSWORD: str | HiddenValue | None = attrs.field(default=None, validator=_secret_or_none)
    #: Run commands with ``sudo``.
    SUDO: bool = attrs.field(default=False, validator=_bool)
    #: The user ``sudo`` runs commands as; None: root.
    SUDO_USER: str | None = attrs.field(default=None, validator=_text_or_none)
    #: Keep the caller's environment through ``sudo`` (``sudo -E``).
    PRESERVE_SUDO_ENV: bool = attrs.field(default=False, validator=_bool)
    #: Run ``sudo`` with a login shell (``sudo -i``).
    USE_SUDO_LOGIN: bool = attrs.field(default=False, validator=_bool)
    #: The password ``sudo`` asks for (a secret: never recorded nor shown).
    SUDO_PASSWORD: str | HiddenValue | None = attrs.field(default=None, validator=_secret_or_none)
    #: Run commands with ``doas``.
    DOAS: bool = attrs.field(default=False, validator=_bool)
    #: The user ``doas`` runs commands as; None: root.
    DOAS_USER: str | None = attrs.field(default=None, validator=_text_or_none)
    #: Run commands with ``dzdo``.
    DZDO: bool = attrs.field(default=False, validator=_bool)
    #: The user ``dzdo`` runs commands as; None: root.
    DZDO_USER: str | None = attrs.field(default=None, validator=_text_or_none)
    #: Failed operations are reported but do not fail their host.
    IGNORE_ERRORS: bool = attrs.field(default=False, validator=_bool)
    #: The shell commands run in.
    SHELL: str = attrs.field(default="sh", validator=_text)
    #: Show full diffs of changed files.
    DIFF: bool = attrs.field(default=False, validator=_bool)
    #: How many times a failed operation is retried.
    RETRY: int = attrs.field(default=0, validator=_count)
    #: Seconds between retries.
    RETRY_DELAY: float = attrs.field(default=5, validator=_seconds)
    #: Names of local environment variables passed on to every command (``ENV`` wins).
    INHERIT_ENV: Sequence[str] = attrs.field(default=(), converter=_strings, validator=_names)
    #: Ours: the most characters of each command's stdout and stderr kept in the log.
    MAX_OUTPUT: int = attrs.field(default=65536, validator=_count)
    #: Ours: events reach the log at most this many seconds after they happen (a crash
    #: loses at most these last seconds); heartbeats come every five times this.
    FLUSH_DELAY: float = attrs.field(default=1.0, validator=_positive_seconds)
    #: Ours: commit every event as it happens: a crash loses nothing (and costs speed).
    SYNC: bool = attrs.field(default=False, validator=_bool)
    #: Environment variables set for every command (values are secrets: never recorded).
    ENV: dict[str, str] = attrs.field(factory=dict, converter=_environment, validator=_env)

    if not TYPE_CHECKING:
        # Hidden from type checkers: a class with __new__/__setattr__ would let them accept
        # any keyword and any attribute; they check against the fields instead.

        def __new__(cls, *args: Any, **settings: Any) -> Config:
            # Before attrs' __init__, which would raise a bare TypeError.
            if args:
                raise ConfigError("Config takes its settings by name: Config(PARALLEL=10)")
            unknown = [name for name in settings if name not in _SETTINGS]
            if unknown:
                raise _unknown(unknown, "Config got settings it does not have:")
            return super().__new__(cls)

        def __setattr__(self, name: str, value: Any) -> None:
            field = _SETTINGS.get(name)
            if field is None:
                raise _unknown([name], "cannot set a config setting that does not exist:")
            if field.converter is not None:
                value = field.converter(value)
            if field.validator is not None:
                field.validator(self, field, value)
            object.__setattr__(self, name, value)

    def settings(self) -> dict[str, Any]:
        """Every setting by name (``ENV`` included, as a copy)."""
        return {name: getattr(self, name) for name in _SETTINGS} | {"ENV": dict(self.ENV)}

    def copy(self, **changes: Any) -> Config:
        """A new Config with the same settings (``TIMEOUT`` included, unlike pyinfra's).

        Args:
            **changes: Settings that differ in the copy (checked as in ``Config(...)``).
        """
        return Config(**{**self.settings(), **changes})

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON values, secrets masked: what a run records of its config.

        A secret (a setting named ``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*`` or
        ``*KEY*``) that is set shows as ``"***"``; every ``ENV`` value does too
        (an environment often carries tokens) -- ``ENV``'s names are kept.
        """
        snapshot = {
            name: MASK if _is_secret(name) and value else _json_value(value)
            for name, value in sorted(self.settings().items())
        }
        snapshot["ENV"] = dict.fromkeys(sorted(self.ENV), MASK)
        return snapshot

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Config:
        """The Config a run recorded (:meth:`snapshot`), as far as it was recorded.

        Every recorded setting comes back but the masked ones: a secret shown
        as ``"***"`` comes back unset (None), and ``ENV`` comes back empty --
        its values were never recorded, and a variable set to a wrong value is
        worse than one missing. A setting not recorded (a run from an older
        version) takes its default.

        Raises:
            ConfigError: the snapshot names settings this version does not
                know, or holds a value of the wrong type.
        """
        unknown = [name for name in snapshot if name not in _SETTINGS]
        if unknown:
            raise _unknown(unknown, "the recorded config has settings this version does not know:")
        return cls(
            **{
                name: value
                for name, value in snapshot.items()
                if name != "ENV" and not (_is_secret(name) and value == MASK)
            }
        )

    def __repr__(self) -> str:
        # The settings that differ from the defaults, as a call that would make them;
        # secrets and ENV values masked as in the snapshot.
        shown = []
        for name, value in self.settings().items():
            if value == DEFAULTS.get(name, {}):  # ENV's default: empty
                continue
            if name == "ENV":
                value = dict.fromkeys(value, MASK)
            elif _is_secret(name) and value:
                value = MASK
            shown.append(f"{name}={value!r}")
        return f"Config({', '.join(shown)})"


_SETTINGS: Mapping[str, attrs.Attribute[Any]] = MappingProxyType(attrs.fields_dict(Config))

#: Every setting but ``ENV`` and its default: pyinfra 3.10's ``ConfigDefaults``, and ours.
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {name: field.default for name, field in _SETTINGS.items() if name != "ENV"}
)


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    # Every other setting is checked to be a JSON value already (None, bool, int, float, str).
    return value
