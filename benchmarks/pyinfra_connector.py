"""``@bench/h0,h1,...``: a pyinfra 3.10 connector whose commands succeed at once.

Loaded by pyinfra through its ``pyinfra.connectors`` entry-point group, which
:func:`register` fills by writing a ``*.dist-info`` folder into a temporary
directory put on ``sys.path``: pyinfra finds connectors only that way.

One inventory name carries every host (``make_names_data`` splits it on
commas), because pyinfra rescans the entry points for each ``@connector``
name of the inventory: one name per host would time that rescan, not the
deploy.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.util import CommandOutput, OutputLine

from benchmarks.pyinfra_deploy import canned_stdout

__all__ = [
    "CANNED_CONNECTOR_NAME",
    "CONNECTOR_NAME",
    "BenchConnector",
    "CannedConnector",
    "inventory_name",
    "register",
]

#: The connector's name in inventories: ``@bench/...``.
CONNECTOR_NAME = "bench"

#: The name of :class:`CannedConnector` in inventories: ``@canned/...``.
CANNED_CONNECTOR_NAME = "canned"

_DIST_NAME = "eventstate_benchmarks_connector"


class BenchConnector(BaseConnector):
    """A host that runs nothing: connecting and every command succeed instantly."""

    handles_execution = True

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        """One host per comma-separated name: ``h0,h1`` gives ``@bench/h0``, ``@bench/h1``."""
        for sub_name in (name or "").split(","):
            if sub_name:
                yield f"@{CONNECTOR_NAME}/{sub_name}", {}, []

    def connect(self) -> None:
        """Nothing to connect to."""

    def disconnect(self) -> None:
        """Nothing to disconnect from."""

    def run_shell_command(
        self,
        command: Any,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> tuple[bool, CommandOutput]:
        """Succeed with no output."""
        return True, CommandOutput([])

    def put_file(self, *args: Any, **kwargs: Any) -> bool:
        """Succeed without uploading anything."""
        return True

    def get_file(self, *args: Any, **kwargs: Any) -> bool:
        """Succeed without downloading anything."""
        return True


class CannedConnector(BenchConnector):
    """A host whose commands succeed at once, printing the benchmark's canned outputs.

    What a command prints is :func:`benchmarks.pyinfra_deploy.canned_stdout` of
    its text -- the rule ``@sim`` applies to its ``sim_outputs`` -- so pyinfra's
    facts see the hosts eventstate's see. Every command is kept, per host, in
    :attr:`commands` as ``(kind, text)``: ``fact`` for a fact's command,
    ``op`` for an operation's, ``upload DEST`` for an upload.
    """

    #: What each host ran, by host name (cleared by the caller between runs).
    commands: ClassVar[dict[str, list[tuple[str, str]]]] = {}

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        """One host per comma-separated name: ``h0,h1`` gives ``@canned/h0``, ``@canned/h1``."""
        for sub_name in (name or "").split(","):
            if sub_name:
                yield f"@{CANNED_CONNECTOR_NAME}/{sub_name}", {}, []

    def run_shell_command(
        self,
        command: Any,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Any,
    ) -> tuple[bool, CommandOutput]:
        """Succeed, printing the canned output for the command's text."""
        text = command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)
        # pyinfra runs a fact's command from facts._get_fact, through Host.run_shell_command:
        # its caller's caller says which kind of command this is.
        kind = "fact" if sys._getframe(2).f_code.co_name == "_get_fact" else "op"
        self.commands.setdefault(self.host.name, []).append((kind, text))
        stdout = canned_stdout(text)
        return True, CommandOutput([OutputLine("stdout", line) for line in stdout.splitlines()])

    def put_file(
        self, filename_or_io: Any, remote_filename: str, *args: Any, **kwargs: Any
    ) -> bool:
        """Succeed without uploading anything (kept as ``upload DEST``)."""
        self.commands.setdefault(self.host.name, []).append(("op", f"upload {remote_filename}"))
        return True


def register() -> Path:
    """Make pyinfra find :class:`BenchConnector`; returns the directory put on ``sys.path``.

    Writes ``METADATA`` and ``entry_points.txt`` of a tiny distribution into a
    new temporary directory, prepends it to ``sys.path`` and invalidates the
    import caches. The caller removes the directory when done.
    """
    root = Path(tempfile.mkdtemp(prefix="eventstate-bench-connector-"))
    dist_info = root / f"{_DIST_NAME}-0.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {_DIST_NAME}\nVersion: 0.0.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[pyinfra.connectors]\n{CONNECTOR_NAME} = {__name__}:BenchConnector\n"
        f"{CANNED_CONNECTOR_NAME} = {__name__}:CannedConnector\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    return root


def inventory_name(hosts: int, connector: str = CONNECTOR_NAME) -> str:
    """The single inventory name that expands to ``hosts`` hosts of ``connector``."""
    return f"@{connector}/" + ",".join(f"h{i}" for i in range(hosts))
