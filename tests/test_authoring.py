"""eventstate.authoring: the helpers for writing operations and facts, beyond pyinfra's tests."""

from __future__ import annotations

import inspect
from io import StringIO
from pathlib import Path

import pytest

from eventstate.authoring import get_caller_frameinfo, get_file_io, try_int


def test_get_file_io_opens_a_path_and_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "motd"
    path.write_bytes(b"hello\n")

    with get_file_io(str(path)) as file:
        assert file.read() == b"hello\n"
    assert file.closed

    with get_file_io(path, mode="r") as file:
        assert file.read() == "hello\n"


def test_get_file_io_rewinds_an_open_file_and_leaves_it_open() -> None:
    stream = StringIO("some string")
    stream.read()

    with get_file_io(stream, mode="r") as file:
        assert file.read() == "some string"
    assert not stream.closed


def test_get_file_io_refuses_what_cannot_be_read() -> None:
    with (
        pytest.raises(TypeError, match="Invalid filename or IO object: 42"),
        get_file_io(42),  # type: ignore[arg-type]
    ):
        pass


def test_try_int_leaves_none_alone() -> None:
    assert try_int(None) is None
    assert try_int(" 7\n") == 7


def test_get_caller_frameinfo_offset_goes_further_up() -> None:
    def inner() -> object:
        return get_caller_frameinfo(frame_offset=1)

    def outer() -> object:
        return inner()

    frameinfo = outer()
    assert isinstance(frameinfo, inspect.Traceback)
    assert frameinfo.function == "test_get_caller_frameinfo_offset_goes_further_up"
    assert frameinfo.filename == __file__
