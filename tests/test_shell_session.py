"""A long-lived shell session: commands framed on one shell's streams (a local ``sh``)."""

from __future__ import annotations

import pytest

from eventstate.connectors.shell_session import ShellSession
from eventstate.errors import SessionLostError


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    opened = ShellSession(["sh"])
    yield opened
    opened.close()


def test_output_error_output_and_status_come_back_apart(session: ShellSession) -> None:
    assert session.run("echo out; echo err >&2; exit 3") == (3, b"out\n", b"err\n")
    assert session.run("printf 'no newline'") == (0, b"no newline", b"")
    assert session.run("true") == (0, b"", b"")


def test_each_command_runs_in_its_own_shell(session: ShellSession) -> None:
    session.run("sh -c 'cd /; export ES_X=1'")
    assert session.run("sh -c 'echo ${ES_X:-unset}'") == (0, b"unset\n", b"")
    # A command reading its input gets none: the session's own input is not its to read.
    assert session.run("cat") == (0, b"", b"")
    assert session.run("echo after") == (0, b"after\n", b"")


def test_large_output_on_both_streams_does_not_stall(session: ShellSession) -> None:
    status, out, err = session.run("head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2")
    assert (status, len(out), len(err)) == (0, 300000, 300000)


def test_output_that_looks_like_a_marker_is_output(session: ShellSession) -> None:
    status, out, _ = session.run("printf '\\n0123 7\\n'")
    assert (status, out) == (0, b"\n0123 7\n")


def test_a_session_that_ended_is_lost(session: ShellSession) -> None:
    session.process.kill()
    session.process.wait()
    assert not session.alive
    with pytest.raises(SessionLostError):
        session.run("echo never")
