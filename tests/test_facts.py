"""Facts: each fact's command and parser, ``get_fact``'s cache, and defaults on failure."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eventstate import Config, Host, Inventory, State
from eventstate.connect import connect_all
from eventstate.connectors import CommandOptions, shell_argv
from eventstate.connectors.process import run_process
from eventstate.context import current_host, using
from eventstate.errors import (
    FactPreconditionError,
    MissingCommandError,
    NoDeployContextError,
    NoHostsRemainingError,
)
from eventstate.events import CommandExecuted, StateStage, with_command_events, with_host_events
from eventstate.facts import (
    DebPackages,
    Directory,
    Fact,
    File,
    FindInFile,
    LinuxDistribution,
    Sha256File,
    SystemdStatus,
    ZfsPools,
    get_fact,
)
from eventstate.replay import read_events

ABSENT = "__eventstate_absent__"
HEX = hashlib.sha256(b"x").hexdigest()


def shell(command: str, cwd: Path | None = None) -> list[str]:
    """Run ``command`` through the local connector's shell; its output lines."""
    options = CommandOptions(chdir=str(cwd) if cwd else None, timeout=10)
    result = run_process(shell_argv(command, options), options)
    assert result.success, result
    return result.stdout.splitlines()


# File and Directory


def test_file_command_stats_the_quoted_path() -> None:
    assert File().command("/etc/motd") == (
        f"stat -c '%F|%a|%U|%G|%s' /etc/motd 2>/dev/null || echo {ABSENT}"
    )
    assert shlex.quote("/a b/it's") in File().command("/a b/it's")
    assert Directory().command("/a b") == File().command("/a b")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "regular file|644|root|adm|12",
            {"type": "regular file", "mode": "644", "user": "root", "group": "adm", "size": 12},
        ),
        (
            "regular empty file|600|u|g|0",
            {"type": "regular empty file", "mode": "600", "user": "u", "group": "g", "size": 0},
        ),
        ("directory|755|root|root|4096", False),
        ("symbolic link|777|root|root|7", False),
        ("fifo|644|root|root|0", False),
    ],
)
def test_file_process(line: str, expected: Any) -> None:
    assert File().process([line]) == expected


@pytest.mark.parametrize("lines", [[ABSENT], []])
def test_file_and_directory_absent(lines: list[str]) -> None:
    assert File().process(lines) is None
    assert Directory().process(lines) is None
    assert File().default() is None
    assert Directory().default() is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "directory|1777|root|root|4096",
            {"type": "directory", "mode": "1777", "user": "root", "group": "root", "size": 4096},
        ),
        ("regular file|644|root|root|1", False),
        ("regular empty file|644|root|root|0", False),
        ("symbolic link|777|root|root|4", False),
    ],
)
def test_directory_process(line: str, expected: Any) -> None:
    assert Directory().process([line]) == expected


def test_file_and_directory_on_the_real_shell(tmp_path: Path) -> None:
    regular = tmp_path / "it's here"
    regular.write_text("12345")
    os.chmod(regular, 0o640)
    info = File().process(shell(File().command(str(regular))))
    assert info["type"] == "regular file"
    assert (info["mode"], info["size"]) == ("640", 5)
    assert Directory().process(shell(Directory().command(str(regular)))) is False

    assert File().process(shell(File().command(str(tmp_path)))) is False
    assert Directory().process(shell(Directory().command(str(tmp_path))))["type"] == "directory"

    empty = tmp_path / "empty"
    empty.touch()
    assert File().process(shell(File().command(str(empty))))["size"] == 0

    link = tmp_path / "link"
    link.symlink_to(regular)
    assert File().process(shell(File().command(str(link)))) is False  # not followed

    missing = tmp_path / "missing"
    assert shell(File().command(str(missing))) == [ABSENT]
    assert File().process(shell(File().command(str(missing)))) is None


# Sha256File


def test_sha256_command_and_process() -> None:
    assert Sha256File().command("/a b") == "if [ -f '/a b' ]; then sha256sum < '/a b'; fi"
    assert Sha256File().process([f"{HEX}  /a b"]) == HEX
    assert Sha256File().process([f"{HEX} */bin/file"]) == HEX
    assert Sha256File().process([]) is None
    assert Sha256File().process([""]) is None
    assert Sha256File().process(["   "]) is None
    assert Sha256File().default() is None


def test_sha256_on_the_real_shell(tmp_path: Path) -> None:
    path = tmp_path / "data file"
    path.write_bytes(b"\x00\x01 binary")
    expected = hashlib.sha256(b"\x00\x01 binary").hexdigest()
    assert Sha256File().process(shell(Sha256File().command(str(path)))) == expected
    assert Sha256File().process(shell(Sha256File().command(str(tmp_path / "nope")))) is None
    assert Sha256File().process(shell(Sha256File().command(str(tmp_path)))) is None  # a dir


def test_sha256_of_a_name_with_a_backslash(tmp_path: Path) -> None:
    path = tmp_path / "back\\slash"
    path.write_bytes(b"x")
    assert Sha256File().process(shell(Sha256File().command(str(path)))) == HEX


# FindInFile


def test_find_in_file_command_and_process() -> None:
    command = FindInFile().command("/a b", "^x y$")
    assert "[ -f '/a b' ]" in command
    assert "grep -E -e '^x y$' '/a b' || true" in command
    assert f"echo {ABSENT}" in command
    assert FindInFile().process([ABSENT]) is None
    assert FindInFile().process([]) == []
    assert FindInFile().process(["a", "a"]) == ["a", "a"]
    assert FindInFile().default() is None


def test_find_in_file_on_the_real_shell(tmp_path: Path) -> None:
    path = tmp_path / "conf"
    path.write_text("key=1\nkey=10\nother\nkey=1\n")

    def find(target: Path, pattern: str) -> list[str] | None:
        return FindInFile().process(shell(FindInFile().command(str(target), pattern)))

    assert find(path, "^key=1$") == ["key=1", "key=1"]
    assert find(path, "^key=[0-9]+$") == ["key=1", "key=10", "key=1"]
    assert find(path, "^nothing$") == []  # grep's exit 1 is not a failure
    assert find(tmp_path / "missing", "x") is None
    assert find(tmp_path, "x") is None  # a directory is not a file


# LinuxDistribution

DEBIAN = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""


def test_linux_distribution_command() -> None:
    assert LinuxDistribution().command() == "cat /etc/os-release 2>/dev/null || true"


def test_linux_distribution_unquotes_values() -> None:
    release = LinuxDistribution().process(DEBIAN.splitlines())
    assert release == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
        "NAME": "Debian GNU/Linux",
        "VERSION_ID": "12",
        "VERSION": "12 (bookworm)",
        "VERSION_CODENAME": "bookworm",
        "ID": "debian",
        "HOME_URL": "https://www.debian.org/",
    }


def test_linux_distribution_edge_cases() -> None:
    lines = [
        "",
        "# a comment, no assignment",
        "garbage without equals",
        'ANSI_COLOR="1;31"',
        'OPTS="a=b c=d"',  # only the first '=' separates
        " ID_LIKE = ubuntu debian ",
        'EMPTY=""',
        "BARE=",
    ]
    assert LinuxDistribution().process(lines) == {
        "ANSI_COLOR": "1;31",
        "OPTS": "a=b c=d",
        "ID_LIKE": "ubuntu debian",
        "EMPTY": "",
        "BARE": "",
    }
    assert LinuxDistribution().process([]) == {}


def test_linux_distribution_on_the_real_shell() -> None:
    release = LinuxDistribution().process(shell(LinuxDistribution().command()))
    assert isinstance(release, dict)
    if Path("/etc/os-release").exists():
        assert release.get("ID")
        assert not release["ID"].startswith('"')


# DebPackages


def test_deb_packages_command() -> None:
    command = DebPackages().command()
    assert command.startswith("dpkg-query -W -f=")
    assert "${db:Status-Abbrev} ${Package} ${Version}" in command
    assert command.endswith("|| true")
    assert DebPackages().default() == {}


def test_deb_packages_only_installed() -> None:
    lines = [
        "ii  nginx 1.22.1-9",
        "ii  libc6:amd64 2.36-9+deb12u4",  # an arch suffix is dropped
        "rc  removed 1.0",  # removed, config files left
        "un  never ",  # known, never installed: no version
        "iU  unpacked 2.0",  # unpacked, not configured
        "iF  halfconf 3.0",
        "pn  purged ",
        "not a package line at all",
        "",
    ]
    assert DebPackages().process(lines) == {"nginx": "1.22.1-9", "libc6": "2.36-9+deb12u4"}
    assert DebPackages().process([]) == {}


def test_deb_packages_counts_held_packages() -> None:
    assert DebPackages().process(["hi  held 1.0"]) == {"held": "1.0"}


# SystemdStatus


def test_systemd_status_command_quotes_the_unit() -> None:
    command = SystemdStatus().command("my unit")
    assert "systemctl is-active 'my unit'" in command
    assert "systemctl is-enabled 'my unit'" in command
    assert command.count("|| true") == 2


@pytest.mark.parametrize(
    ("lines", "running", "enabled"),
    [
        (["active", "enabled"], True, True),
        (["inactive", "disabled"], False, False),
        (["active", "disabled"], True, False),
        (["failed", "enabled"], False, True),
        (["activating", "enabled"], False, True),
        (["active", "static"], True, False),
        (["active", "enabled-runtime"], True, False),
        (["unknown", "unknown"], False, False),  # systemd knows no such unit
        (["unknown"], False, False),
        ([], False, False),  # no systemctl at all
        (["  active  ", " enabled "], True, True),
    ],
)
def test_systemd_status_process(lines: list[str], running: bool, enabled: bool) -> None:
    assert SystemdStatus().process(lines) == {"running": running, "enabled": enabled}


def test_fact_base_class() -> None:
    with pytest.raises(NotImplementedError):
        Fact().command()
    assert Fact().process(["a", "b"]) == ["a", "b"]
    assert Fact().default() is None


# get_fact: one command per fact and arguments, the default when it fails


class Failing(Fact):
    name = "test.Failing"

    def command(self) -> str:  # type: ignore[override]
        return "echo partial; echo broken >&2; exit 3"

    def process(self, lines: list[str]) -> Any:
        raise AssertionError("process must not see a failed command's output")

    def default(self) -> Any:
        return "the default"


@pytest.fixture
def local() -> Iterator[tuple[State, Host]]:
    inventory = Inventory((["@local"], {}))
    state = State(inventory, Config())
    connect_all(state)
    yield state, inventory.get_host("@local")
    state.finish()


def make_sim(data: dict[str, Any]) -> tuple[State, Host]:
    # A second host, so that a fact failing @sim/x leaves a host and the deploy goes on.
    inventory = Inventory(([("@sim/x", data), "@sim/other"], {}))
    state = State(inventory, Config())
    connect_all(state)
    return state, inventory.get_host("@sim/x")


def fact_events(state: State) -> list[CommandExecuted]:
    state.flush()
    return [
        e
        for e in with_host_events(with_command_events(read_events(state.log, state.run_id)))
        if isinstance(e, CommandExecuted) and e.fact is not None
    ]


def test_get_fact_runs_its_command_once(local: tuple[State, Host], tmp_path: Path) -> None:
    state, host = local
    path = tmp_path / "f"

    assert state.get_fact(host, File, str(path)) is None
    path.write_text("now it exists")
    assert state.get_fact(host, File, str(path)) is None  # cached: gathered once per run
    with using(state, host):  # in deploy code, the host asks its deploy
        assert host.get_fact(File, str(path)) is None

    (event,) = fact_events(state)
    assert event.fact == f"files.File({path})"
    assert event.op_hash is None
    assert event.command == File().command(str(path))
    assert (event.success, event.exit_code, event.stdout) == (True, 0, f"{ABSENT}\n")

    # Other arguments, or another fact on the same path, are other questions.
    assert state.get_fact(host, File, str(tmp_path / "g")) is None
    assert state.get_fact(host, Directory, str(path)) is False
    assert [e.fact for e in fact_events(state)] == [
        f"files.File({path})",
        f"files.File({tmp_path / 'g'})",
        f"files.Directory({path})",
    ]


def test_get_fact_caches_mutable_values_by_identity(local: tuple[State, Host]) -> None:
    state, host = local
    first = state.get_fact(host, LinuxDistribution)
    assert state.get_fact(host, LinuxDistribution) is first


def test_get_fact_keys_on_sudo() -> None:
    state, host = make_sim({"sim_outputs": {"dpkg-query": "ii nginx 1.0\n"}})
    assert state.get_fact(host, DebPackages) == {"nginx": "1.0"}
    assert state.get_fact(host, DebPackages) == {"nginx": "1.0"}
    assert state.get_fact(host, DebPackages, sudo=True) == {"nginx": "1.0"}
    assert state.get_fact(host, DebPackages, sudo=True) == {"nginx": "1.0"}
    assert len(fact_events(state)) == 2
    assert state.connections.connector(host).commands_run == 2  # type: ignore[attr-defined]


def test_a_failing_fact_command_fails_the_host(local: tuple[State, Host]) -> None:
    # As pyinfra 3.10: never plan on a made-up value. The only host failed: no host left.
    state, host = local
    with pytest.raises(NoHostsRemainingError):
        state.get_fact(host, Failing)
    assert [h.name for h in state.failed_hosts] == ["@local"]
    (event,) = fact_events(state)
    assert event.fact == "test.Failing()"
    assert (event.success, event.exit_code) == (False, 3)
    assert (event.stdout, event.stderr) == ("partial\n", "broken\n")


@pytest.mark.parametrize(
    ("fact", "args", "default"),
    [
        (DebPackages, (), {}),
        (File, ("/etc/motd",), None),
        (Directory, ("/etc",), None),
        (Sha256File, ("/etc/motd",), None),
        (FindInFile, ("/etc/motd", "^x$"), None),
    ],
)
def test_every_fact_defaults_when_its_command_fails(
    fact: type[Fact], args: tuple[str, ...], default: Any
) -> None:
    # The sim prints the output for the command -- but fails it: the output is not used.
    state, host = make_sim(
        {"sim_fail_rate": 1.0, "sim_outputs": {".": "ii nginx 1.0\nactive\nenabled\n"}}
    )
    assert state.get_fact(host, fact, *args) == default
    (event,) = fact_events(state)
    assert not event.success
    assert [h.name for h in state.failed_hosts] == ["@sim/x"]  # and the host failed


def test_a_fact_failing_inside_an_op_that_ignores_errors_fails_nothing() -> None:
    from eventstate.operation import add_op, operation

    @operation
    def probe() -> Any:
        current_host().get_fact(File, "/etc/motd")
        yield "true"

    state, host = make_sim({"sim_fail_patterns": {"stat": 1.0}})
    add_op(state, probe, host=host, _ignore_errors=True)
    (event,) = fact_events(state)
    assert not event.success  # it did fail
    assert list(state.failed_hosts) == []


def test_facts_take_keyword_arguments_and_the_ops_connector_arguments() -> None:
    from eventstate.operation import add_op, operation

    @operation
    def probe() -> Any:
        current_host().get_fact(File, path="/etc/motd")
        yield "true"

    state, host = make_sim({})
    add_op(state, probe, host=host, _sudo=True, _sudo_user="app", _env={"A": "1"})
    (event,) = fact_events(state)
    assert event.fact == "files.File(path=/etc/motd)"
    assert event.command.startswith("sudo -u app ")  # the op's privilege, not the default


def test_current_op_global_arguments_assigned_outside_an_op_reach_facts() -> None:
    # pyinfra's API: a dict assigned to host.current_op_global_arguments; the call's win.
    from eventstate.operation import add_op, operation

    state, host = make_sim({})
    host.current_op_global_arguments = {"_sudo": True, "_sudo_user": "app"}
    assert host.current_op_global_arguments == {"_sudo": True, "_sudo_user": "app"}
    state.get_fact(host, File, "/etc/motd")
    state.get_fact(host, File, "/etc/issue", _sudo_user="web")
    seen: list[Any] = []

    @operation
    def probe() -> Any:
        seen.append(current_host().current_op_global_arguments)
        yield "true"

    add_op(state, probe, host=host, _sudo=False)
    first, second = fact_events(state)
    assert first.command.startswith("sudo -u app ")
    assert second.command.startswith("sudo -u web ")
    assert seen[0]["_sudo"] is False  # inside an op: the op's, by keyword
    host.current_op_global_arguments = None
    assert host.current_op_global_arguments is None


class NeedsBinary(Fact):
    name = "test.NeedsBinary"

    def command(self, binary: str) -> str:
        return "echo present"

    def requires_command(self, binary: str) -> str:
        return binary

    def process(self, lines: list[str]) -> Any:
        return lines

    def default(self) -> Any:
        return "absent"


class NeedsModule(Fact):
    name = "test.NeedsModule"

    def command(self) -> str:
        return "echo never"

    def check_preconditions(self, state: Any, host: Host) -> str | None:
        return "module x is not loaded"


def test_a_fact_whose_binary_is_absent_is_its_default_and_not_a_failure(
    local: tuple[State, Host],
) -> None:
    # pyinfra's requires_command: the shell prints the marker instead of running it.
    state, host = local
    assert state.get_fact(host, NeedsBinary, "sh") == ["present"]
    assert state.get_fact(host, NeedsBinary, "eventstate-no-such-binary") == "absent"
    assert list(state.failed_hosts) == []
    with pytest.raises(MissingCommandError, match="eventstate-no-such-binary"):
        state.collect_fact(host, NeedsBinary, "eventstate-no-such-binary")
    present, absent, _ = fact_events(state)
    assert present.command.startswith("if command -v sh >/dev/null 2>&1; then (echo present);")
    assert absent.stdout == "##PYINFRA_NOCMD##\n"
    state.set_stage(StateStage.Execute)  # at execute too: the default (pyinfra 3's shim)
    assert state.get_fact(host, NeedsBinary, "eventstate-no-such-binary") == "absent"


def test_a_failed_precondition_is_the_default_until_execute(local: tuple[State, Host]) -> None:
    state, host = local
    assert state.get_fact(host, NeedsModule) is None
    assert get_fact(state, host, NeedsModule) is None
    assert fact_events(state) == []  # the command never ran
    state.set_stage(StateStage.Execute)
    with pytest.raises(FactPreconditionError, match=r"\(NeedsModule\): module x is not loaded"):
        state.get_fact(host, NeedsModule)


def test_zfs_pools_reads_zpools_table() -> None:
    assert ZfsPools().command() == "zpool get -H all"
    assert ZfsPools().process(["tank\tsize\t10G\t-", "tank\thealth\tONLINE\t-"]) == {
        "tank": {"size": "10G", "health": "ONLINE"}
    }
    state, host = make_sim({})  # no zpool on a sim host: no pools
    assert state.get_fact(host, ZfsPools) == {}


def test_systemd_status_default_is_a_status() -> None:
    # (The host fails with it: see above.)
    state, host = make_sim({"sim_fail_rate": 1.0})
    assert state.get_fact(host, SystemdStatus, "nginx") == {"running": False, "enabled": False}


# Quoting: any path is one shell word

_PATH_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\n"),
    max_size=40,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(text="'; touch pwned; echo '")
@example(text="$(touch pwned)")
@example(text="`touch pwned`")
@example(text='" && touch pwned && "')
@example(text="\\'; touch pwned #")
@example(text=" -c x")
@given(text=_PATH_TEXT)
def test_file_command_on_any_missing_path_is_none(tmp_path: Path, text: str) -> None:
    path = f"{tmp_path}/missing-{text}"  # its first component never exists
    lines = shell(File().command(path), cwd=tmp_path)
    assert lines == [ABSENT]
    assert File().process(lines) is None
    assert os.listdir(tmp_path) == []  # nothing injected ran


_LINE_TEXT = st.text(
    alphabet=st.characters(
        exclude_categories=("Cs",),
        exclude_characters="\x00\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=30,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(line="a.b*[c]")
@example(line="\\")
@example(line="x{2}")
@given(line=_LINE_TEXT)
def test_find_in_file_with_an_escaped_line_finds_only_it(tmp_path: Path, line: str) -> None:
    path = tmp_path / "lines"
    path.write_text(f"{line}x\nx{line}\n{line}\n")
    pattern = f"^{re.escape(line)}$"  # what files.line asks
    assert FindInFile().process(shell(FindInFile().command(str(path), pattern))) == [line]


def test_host_get_fact_outside_a_deploy_says_where_to_ask() -> None:
    # Hosts hold no State: outside deploy code the State is asked directly.
    state, host = make_sim({})
    with pytest.raises(NoDeployContextError, match="operations run inside a deploy"):
        host.get_fact(File, "/etc/motd")
    assert state.get_fact(host, File, "/etc/motd") is None


def test_a_user_sudo_does_not_know_yet_gives_the_default(local: tuple[State, Host]) -> None:
    # As pyinfra: the op that creates the user may come later in the deploy.
    state, host = local
    assert state.get_fact(host, File, "/etc/hostname", _sudo=True, _sudo_user="es-nobody") is None
    (event,) = fact_events(state)
    assert not event.success and event.stderr.startswith("sudo: unknown user")
    assert list(state.failed_hosts) == []


def test_global_arguments_among_a_facts_keywords_apply_to_it(local: tuple[State, Host]) -> None:
    state, host = local
    state.get_fact(host, File, path="/etc/hostname", _sudo=True)
    (event,) = fact_events(state)
    assert event.command.startswith("sudo ") and event.fact == "files.File(path=/etc/hostname)"


def test_a_failed_fact_is_asked_again() -> None:
    state, host = make_sim({"sim_fail_patterns": {"stat": 1.0}})
    state.get_fact(host, File, "/x")
    state.get_fact(host, File, "/x")
    assert len(fact_events(state)) == 2
