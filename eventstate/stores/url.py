"""Opening an event store by URL: one string says which backend holds the log, and where.

The forms :func:`open_log` takes:

- a plain path -- ``./eventstate.db``, ``runs/x.db``, ``~/deploys.db`` (``~``
  expanded) -- is a SQLite file;
- ``sqlite:///runs/x.db`` (relative) and ``sqlite:////var/lib/x.db``
  (absolute), SQLAlchemy's convention; ``sqlite://`` or ``sqlite:///:memory:``
  is a private in-memory SQLite database;
- ``memory://`` is a :class:`~eventstate.stores.MemoryEventLog`;
- ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``postgres://``), libpq's URL, is
  a :class:`~eventstate.stores.PostgresEventLog` in that database (``?schema=NAME``
  for a schema other than ``eventstate``); it needs ``eventstate[postgres]``.

Each backend's module is imported only when a URL names it, so importing
:mod:`eventstate.stores` loads no database driver.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from typing import cast

import attrs

from eventstate.errors import StoreError
from eventstate.stores.base import EventLog

__all__ = ["URL_FORMS", "open_log", "shown_url"]


@attrs.frozen
class _Backend:
    """A kind of store that URLs can name.

    Attributes:
        name: What a message calls it.
        example: A URL of its form, for help texts.
        opener: ``"module:function"``, called as ``function(url, create=..., read_only=...)``;
            None for a store eventstate does not have yet.
    """

    name: str
    example: str
    opener: str | None = None


_POSTGRESQL = _Backend(
    "PostgreSQL", "postgresql://HOST/DB", "eventstate.stores.postgres:open_postgres_url"
)

#: Every URL scheme and its backend: adding a store is one entry here.
_BACKENDS: dict[str, _Backend] = {
    "sqlite": _Backend("SQLite", "sqlite:///PATH", "eventstate.stores.sqlite:open_sqlite_url"),
    "memory": _Backend("in-memory", "memory://", "eventstate.stores.memory:open_memory_url"),
    "postgresql": _POSTGRESQL,
    "postgres": _POSTGRESQL,
}


def _in_words(forms: list[str]) -> str:
    return ", ".join(forms[:-1]) + " or " + forms[-1]


#: The forms of log :func:`open_log` takes, in words (for help texts and messages).
URL_FORMS = _in_words(["a path", *dict.fromkeys(b.example for b in _BACKENDS.values() if b.opener)])

#: What opens a plain path: a SQLite file.
_PATH_OPENER = "eventstate.stores.sqlite:SqliteEventLog"

# RFC 3986's scheme, then "://": anything else is a path (even with "://" further on).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _opener(spec: str) -> Callable[..., EventLog]:
    module, _, name = spec.partition(":")
    return cast("Callable[..., EventLog]", getattr(importlib.import_module(module), name))


def open_log(
    url: str | os.PathLike[str], *, create: bool = True, read_only: bool = False
) -> EventLog:
    """The event log ``url`` names, opened (see the module's docstring for the forms).

    Args:
        url: A path, or a URL whose scheme names the store.
        create: Create the log when there is none. With False a missing log
            is a :class:`~eventstate.errors.StoreNotFoundError`.
        read_only: Open an existing log to read it only (what a reader of
            past runs wants): the store never writes to it -- no append, no
            snapshot, not a byte of the file -- and it reads a log its user
            may not write (``create`` is then ignored).

    Raises:
        StoreError: an unknown scheme, a store not available yet, a malformed
            URL, or what the backend raises when it opens the log -- one line,
            which never repeats the URL's credentials.
    """
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    match = _SCHEME.match(url)
    if match is None:
        if not url.strip():
            raise StoreError(f"no event log given: give {URL_FORMS}")
        return _opener(_PATH_OPENER)(os.path.expanduser(url), create=create, read_only=read_only)
    scheme = match[1].lower()
    backend = _BACKENDS.get(scheme)
    if backend is None:
        raise StoreError(f"unknown store URL scheme {scheme}://: give {URL_FORMS}")
    if backend.opener is None:
        raise StoreError(
            f"the {backend.name} store is not available yet ({scheme}://): give {URL_FORMS}"
        )
    return _opener(backend.opener)(url, create=create, read_only=read_only)


# ``scheme://user:password@host`` -> the part between ``//`` and the LAST ``@``: a password
# may hold a ``/`` or an ``@`` its owner did not escape, and masking too much is harmless.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://).*@", re.DOTALL)


def shown_url(url: str | os.PathLike[str]) -> str:
    """``url`` as it may be printed: a user name and password in it become ``***``.

    Example:
        >>> shown_url("postgresql://deploy:hunter2@db.example.com/audit")
        'postgresql://***@db.example.com/audit'
    """
    return _USERINFO.sub(r"\1***@", os.fspath(url))
