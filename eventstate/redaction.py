"""Keeping secrets out of what a run records of its own code.

A run records its deploy file and inventory as written (``DeployLoaded``), so
that it can be re-run. Those files often hold secrets in clear --
``ssh_password="..."`` in an inventory, ``_sudo_password="..."`` in a deploy.
Before the text is recorded, every string literal given to a secret-named
name (a keyword argument, a dict key, an assignment) is replaced by ``***``
wherever it appears, as are any secret values already known (host data,
config). A rerun runs the redacted code: no connector of a rerun sends a
password, so it behaves the same.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eventstate.commands import MASK, HiddenValue, scrub
from eventstate.stores.url import shown_url

__all__ = ["is_secret_name", "redact_command_line", "redact_source", "secret_values"]

# Names whose values are secrets: ssh_password, ssh_key_password, _sudo_password,
# api_token, DB_SECRET, api_key, AWS_ACCESS_KEY... (not ssh_key, nor a *_key_file:
# those are files' names).
_SECRET_NAME = re.compile(r"pass(word|phrase|wd)|pwd|secret|token|key", re.IGNORECASE)
_KEY_FILE = re.compile(r"(^|_)ssh_key$|key_(file|path)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a setting, argument or data key called ``name`` holds a secret."""
    found = _SECRET_NAME.search(name)
    if found is None:
        return False
    return found.group().lower() != "key" or not _KEY_FILE.search(name)


# Options whose KEY=VALUE argument may carry a secret value: the value is never recorded.
_VALUE_OPTIONS = ("--data",)


def redact_command_line(argv: Sequence[str]) -> tuple[str, ...]:
    """A command line as a run may record it: no password, no value given on it.

    A store URL's user and password (``scheme://user:password@host/db``)
    become ``***``; ``--data KEY=VALUE`` (pyinfra's override of host data) keeps
    only ``KEY=***``, as its values may be secrets; any other ``KEY=VALUE``
    argument with a secret-named key (``api_token=...`` given to ``eventstate
    facts``) keeps only its key.
    """
    shown: list[str] = []
    masking_next = False
    for arg in argv:
        if masking_next:
            key, equals, _ = arg.partition("=")
            shown.append(f"{key}={MASK}" if equals else MASK)
            masking_next = False
            continue
        option, equals, value = arg.partition("=")
        if option in _VALUE_OPTIONS:
            if equals:
                key, _, _ = value.partition("=")
                shown.append(f"{option}={key}={MASK}")
            else:
                shown.append(arg)
                masking_next = True
            continue
        if equals and not option.startswith("-") and is_secret_name(option):
            shown.append(f"{option}={MASK}")
            continue
        shown.append(shown_url(arg) if "://" in arg else arg)
    return tuple(shown)


def secret_values(data: Mapping[str, Any]) -> set[str]:
    """The string values of ``data``'s secret-named keys, and every Secret's value in it."""
    found = {value for key, value in data.items() if is_secret_name(key) and _worth(value)}
    found |= {value.unmask() for value in data.values() if isinstance(value, HiddenValue)}
    return {value for value in found if _worth(value)}


def _worth(value: Any) -> bool:
    # Too short a value would mask ordinary text everywhere it occurs.
    return isinstance(value, str) and len(value) >= 4 and value != MASK


_SECRET_TYPES = ("Secret", "HiddenValue")


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _secret_literals(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        pairs: list[tuple[str | None, ast.AST | None]] = []
        if isinstance(node, ast.keyword):
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Dict):
            pairs += [(_literal(k), v) for k, v in zip(node.keys, node.values, strict=True)]
        elif isinstance(node, ast.Assign):
            pairs += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
            # host.data.ssh_password = "..."
            pairs += [(t.attr, node.value) for t in node.targets if isinstance(t, ast.Attribute)]
        elif isinstance(node, ast.Call) and _called(node) in _SECRET_TYPES and node.args:
            # Secret("...") is a secret whatever it is called.
            pairs.append(("secret", node.args[0]))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            pairs.append((node.target.id, node.value))
        for name, value in pairs:
            text = _literal(value)
            if name and text is not None and is_secret_name(name) and _worth(text):
                found.add(text)
    return found


def redact_source(source: str, known: Iterable[str] = ()) -> str:
    """``source`` with every secret it holds in clear, and every ``known`` one, as ``***``."""
    secrets = _secret_literals(source) | {value for value in known if _worth(value)}
    # Longest first: a secret that contains another is masked whole.
    return scrub(source, sorted(secrets, key=len, reverse=True)) if secrets else source
