"""A real PostgreSQL server for the tests: one throwaway cluster per test session.

``initdb`` makes a cluster in a temporary directory and ``pg_ctl`` starts it on a
free loopback port (never 0.0.0.0), its socket in that directory too, trusting
local connections. The server refuses to run as root: as root, the cluster's
directory belongs to the ``postgres`` user and the programs run as that user
(``su postgres``). It is started on first use -- by whichever test module asks
first -- and stopped when the test process ends. ``.ci/run`` installs Debian's
``postgresql`` when it is missing; a server that cannot start fails the tests
that need it (nothing is skipped).

Each test gets a database of its own, or a schema of its own in one (the store's
``?schema=`` option), so tests never see one another's runs.
"""

from __future__ import annotations

import atexit
import glob
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import attrs

__all__ = ["PostgresServer", "running_postgres"]

#: The cluster's superuser, the role the tests connect as unless they say otherwise.
SUPERUSER = "eventstate"


def _binaries() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: Debian's newest, else the ones on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no pg_ctl): apt-get install postgresql (.ci/run does)"
        )
    return Path(os.path.realpath(on_path)).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.frozen
class PostgresServer:
    """A running test cluster and how to reach it.

    Attributes:
        port: Its port on 127.0.0.1.
        directory: Its data, socket and log.
        binaries: Where its programs are.
    """

    port: int
    directory: Path
    binaries: Path

    def url(self, database: str = "postgres", user: str = SUPERUSER, **options: str) -> str:
        """A ``postgresql://`` URL of ``database`` as ``user`` (with ``?key=value`` options)."""
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run ``statement`` as the superuser, with autocommit (CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def new_database(self, prefix: str = "t") -> str:
        """A new, empty database; its name."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    @property
    def log(self) -> str:
        """What the server has logged so far."""
        return (self.directory / "pg.log").read_text(errors="replace")


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when this process is root (the server refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]


def _start() -> PostgresServer:
    binaries = _binaries()
    directory = Path(tempfile.mkdtemp(prefix="eventstate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    subprocess.run(
        _as_postgres(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    # A throwaway cluster: no fsync (the tests are not about surviving a power cut).
    settings = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -k {directory} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    started = subprocess.run(
        _as_postgres(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                settings,
                "-l",
                str(directory / "pg.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        log = (directory / "pg.log").read_text(errors="replace") if data.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}{started.stdout}\n{log}")
    server = PostgresServer(port=port, directory=directory, binaries=binaries)
    atexit.register(_stop, server)
    return server


def _stop(server: PostgresServer) -> None:
    data = str(server.directory / "data")
    subprocess.run(
        _as_postgres([str(server.binaries / "pg_ctl"), "-D", data, "-m", "immediate", "stop"]),
        capture_output=True,
        check=False,
    )
    shutil.rmtree(server.directory, ignore_errors=True)


_server: PostgresServer | None = None


def running_postgres() -> PostgresServer:
    """The session's server, started on the first call (and stopped when the process ends)."""
    global _server
    if _server is None:
        _server = _start()
    return _server
