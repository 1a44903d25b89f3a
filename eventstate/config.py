"""Deploy configuration: pyinfra 3.10's ``Config`` with its defaults, plus ``TIMEOUT``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULTS", "Config"]

#: Every setting and its default: pyinfra 3.10's ``ConfigDefaults``, and ``TIMEOUT``.
DEFAULTS: Mapping[str, Any] = {
    "FAIL_PERCENT": None,
    "CONNECT_TIMEOUT": 10,
    # pyinfra has no TIMEOUT (its ``_timeout`` is per op); ours is the default
    # per-command timeout in seconds, None for no limit.
    "TIMEOUT": None,
    "TEMP_DIR": None,
    "DEFAULT_TEMP_DIR": "/tmp",
    "PARALLEL": 0,
    "REQUIRE_PYINFRA_VERSION": None,
    "REQUIRE_PACKAGES": None,
    "SU_USER": None,
    "USE_SU_LOGIN": False,
    "SU_SHELL": False,
    "PRESERVE_SU_ENV": False,
    "SU_PASSWORD": None,
    "SUDO": False,
    "SUDO_USER": None,
    "PRESERVE_SUDO_ENV": False,
    "USE_SUDO_LOGIN": False,
    "SUDO_PASSWORD": None,
    "DOAS": False,
    "DOAS_USER": None,
    "DZDO": False,
    "DZDO_USER": None,
    "IGNORE_ERRORS": False,
    "SHELL": "sh",
    "DIFF": False,
    "RETRY": 0,
    "RETRY_DELAY": 5,
    "INHERIT_ENV": (),
    # Ours: the most characters of each command's stdout and stderr kept in the log.
    "MAX_OUTPUT": 65536,
}

# Settings whose values are secrets: the run's config snapshot records only that they were set.
_SECRET_KEYS = frozenset({"SU_PASSWORD", "SUDO_PASSWORD"})


class Config:
    """The settings of a deploy: every key of :data:`DEFAULTS`, and any extra keys given.

    Example:
        >>> Config(PARALLEL=10, TIMEOUT=30).PARALLEL
        10
    """

    FAIL_PERCENT: int | None
    CONNECT_TIMEOUT: int
    TIMEOUT: float | None
    PARALLEL: int
    IGNORE_ERRORS: bool
    RETRY: int
    RETRY_DELAY: float

    def __init__(self, **settings: Any) -> None:
        self.ENV: dict[str, str] = dict(settings.pop("ENV", {}))
        for key, value in {**DEFAULTS, **settings}.items():
            setattr(self, key, value)

    def settings(self) -> dict[str, Any]:
        """Every setting (defaults, given keys and ``ENV``) by name."""
        return {key: value for key, value in vars(self).items() if key.isupper()}

    def copy(self) -> Config:
        """A new Config with the same settings (``TIMEOUT`` included, unlike pyinfra's)."""
        return Config(**self.settings())

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON values, secrets masked: what a run records of its config.

        Passwords and every ``ENV`` value are masked (an environment often
        carries tokens); ``ENV``'s names are kept.
        """
        snapshot = {
            key: ("***" if key in _SECRET_KEYS and value else _json_value(value))
            for key, value in sorted(self.settings().items())
        }
        snapshot["ENV"] = dict.fromkeys(sorted(self.ENV), "***")
        return snapshot

    def __repr__(self) -> str:
        return f"Config({', '.join(f'{k}={v!r}' for k, v in sorted(self.settings().items()))})"


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_json_value(item) for item in value]
    # A value JSON cannot hold is recorded as its repr: the log says what it was.
    return repr(value)
