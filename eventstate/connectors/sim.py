"""``@sim/NAME``: simulated hosts for tests, demos and benchmarks.

Nothing is run. Whether a command succeeds is drawn from a hash of the
seed, the host, the command's position on that host and its text -- never
from a shared random generator -- so the same deploy with the same seed
gives the same outcomes, however greenlets interleave. Set per host (or for
all, in inventory data):

``sim_seed``           the seed (default 0)
``sim_latency``        seconds each command takes (default 0: no sleep at all)
``sim_fail_rate``      chance each command fails (default 0)
``sim_fail_patterns``  ``{regex: rate}``: the rate for commands matching a regex
``sim_connect_fail_rate``  chance the connection fails (default 0)
``sim_outputs``        ``{regex: stdout}``: what matching commands print
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from hashlib import blake2b
from typing import Any

import gevent

from eventstate.commands import StringCommand
from eventstate.connectors.base import CommandOptions, CommandResult, Connector
from eventstate.errors import ConnectError

__all__ = ["SimConnector", "sim_draw"]


def sim_draw(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same parts always give the same number."""
    digest = blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SimConnector(Connector):
    """A simulated host: deterministic outcomes, configurable latency and failures."""

    name = "sim"

    def __init__(
        self,
        host_name: str,
        data: Mapping[str, Any],
        arg: str | None,
        *,
        connect_timeout: float = 10,
    ) -> None:
        super().__init__(host_name, data, arg, connect_timeout=connect_timeout)
        self.seed = data.get("sim_seed", 0)
        self.latency = float(data.get("sim_latency", 0) or 0)
        self.fail_rate = float(data.get("sim_fail_rate", 0) or 0)
        self.connect_fail_rate = float(data.get("sim_connect_fail_rate", 0) or 0)
        self.fail_patterns = [
            (re.compile(pattern), float(rate))
            for pattern, rate in (data.get("sim_fail_patterns") or {}).items()
        ]
        self.outputs = [
            (re.compile(pattern), str(output))
            for pattern, output in (data.get("sim_outputs") or {}).items()
        ]
        self.commands_run = 0
        self.instant = not self.latency

    def connect(self) -> None:
        """Connect, unless the draw for this host says the connection fails."""
        if self.latency:
            gevent.sleep(self.latency)
        if sim_draw(self.seed, self.host_name, "connect") < self.connect_fail_rate:
            raise ConnectError(f"simulated connection failure to {self.host_name}")

    def _rate(self, text: str) -> float:
        for pattern, rate in self.fail_patterns:
            if pattern.search(text):
                return rate
        return self.fail_rate

    def run_shell_command(self, command: StringCommand, options: CommandOptions) -> CommandResult:
        """Pretend to run ``command``: succeed or fail as drawn, print any configured output."""
        if not (self.latency or self.fail_patterns or self.outputs) and self.fail_rate <= 0:
            # What _outcome gives such a host (every command succeeds, at once, silent).
            self.commands_run += 1
            return _SUCCEEDED
        return self._outcome(command.raw())

    def put_file(self, content: bytes, dest: str, options: CommandOptions) -> CommandResult:
        """Pretend to upload a file."""
        return self._outcome(f"upload {dest}")

    def _outcome(self, text: str) -> CommandResult:
        self.commands_run += 1
        if self.latency:
            gevent.sleep(self.latency)
        rate = self._rate(text)
        # A draw is in [0, 1): at rate 0 it never fails, so it need not be drawn.
        if rate > 0 and sim_draw(self.seed, self.host_name, self.commands_run, text) < rate:
            return _FAILED
        if not self.outputs:
            return _SUCCEEDED
        stdout = next((out for pattern, out in self.outputs if pattern.search(text)), "")
        return CommandResult(True, 0, stdout, "")


# Results are frozen: every command that succeeds (or fails) without output gets the same.
_SUCCEEDED = CommandResult(True, 0, "", "")
_FAILED = CommandResult(False, 1, "", "simulated failure")
