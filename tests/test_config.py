"""Config: pyinfra 3.10's settings and defaults, typed; unknown names refused; snapshots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pyinfra.api.config import Config as PyinfraConfig
from pyinfra.api.config import config_defaults as pyinfra_defaults

import eventstate.config
from eventstate import Config, ConfigError, EventstateError, Inventory, State
from eventstate.cli import main
from eventstate.codec import EventCodec
from eventstate.config import DEFAULTS
from eventstate.events import RunStarted

OURS = {"TIMEOUT", "MAX_OUTPUT", "FLUSH_DELAY", "SYNC"}
SECRETS = {"SU_PASSWORD", "SUDO_PASSWORD"}


# Defaults: pyinfra's, for every setting pyinfra has


def test_every_pyinfra_setting_is_a_setting_with_its_default() -> None:
    ours = Config()
    assert set(pyinfra_defaults) == set(DEFAULTS) - OURS
    for name, default in pyinfra_defaults.items():
        value = getattr(ours, name)
        assert (value, type(value)) == (default, type(default)), name
    assert ours.ENV == PyinfraConfig().ENV == {}


def test_defaults_is_every_setting_but_env() -> None:
    assert set(DEFAULTS) == set(attrs.fields_dict(Config)) - {"ENV"}
    assert {name: getattr(Config(), name) for name in DEFAULTS} == dict(DEFAULTS)
    with pytest.raises(TypeError):
        DEFAULTS["PARALLEL"] = 10  # type: ignore[index]


def test_our_settings_and_their_defaults() -> None:
    config = Config()
    assert (config.TIMEOUT, config.MAX_OUTPUT, config.ENV) == (None, 65536, {})


def test_settings_are_given_by_name_and_compare_by_value() -> None:
    config = Config(PARALLEL=10, TIMEOUT=30)
    assert (config.PARALLEL, config.TIMEOUT) == (10, 30)
    assert config == Config(TIMEOUT=30, PARALLEL=10) != Config(PARALLEL=10)
    with pytest.raises(ConfigError, match=r"^Config takes its settings by name"):
        Config(10)  # type: ignore[call-arg]


# Unknown names


def test_an_unknown_setting_is_an_error_naming_it_and_the_settings() -> None:
    with pytest.raises(ConfigError) as raised:
        Config(PARALLEL=10, SUDOO=True)  # type: ignore[call-arg]
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("Config got settings it does not have: SUDOO (did you mean SUDO")
    listed = message.split("; the settings are ", 1)[1].split(", ")
    assert sorted(listed) == sorted(attrs.fields_dict(Config))
    assert listed[0] == "SUDO"  # the closest first
    assert isinstance(raised.value, EventstateError) and isinstance(raised.value, TypeError)


def test_every_unknown_setting_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        Config(PARALEL=10, FAIL_PERSENT=5, ZZZ=1)  # type: ignore[call-arg]
    message = str(raised.value)
    assert message.startswith(
        "Config got settings it does not have: FAIL_PERSENT, PARALEL, ZZZ "
        "(did you mean FAIL_PERCENT or PARALLEL?); the settings are FAIL_PERCENT, PARALLEL, "
    )


def test_a_name_close_to_none_gets_no_guess() -> None:
    with pytest.raises(ConfigError, match=r"^Config got settings it does not have: ZZZ; the "):
        Config(ZZZ=1)  # type: ignore[call-arg]


# Types


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PARALLEL", -1, "a whole number >= 0, not -1"),
        ("PARALLEL", 2.5, "a whole number >= 0, not 2.5"),
        ("PARALLEL", True, "a whole number >= 0, not True"),
        ("PARALLEL", "10", "a whole number >= 0, not '10'"),
        ("RETRY", -1, "a whole number >= 0, not -1"),
        ("MAX_OUTPUT", None, "a whole number >= 0, not None"),
        ("FAIL_PERCENT", 101, "a percentage from 0 to 100, or None, not 101"),
        ("FAIL_PERCENT", -1, "a percentage from 0 to 100, or None, not -1"),
        ("FAIL_PERCENT", False, "a percentage from 0 to 100, or None, not False"),
        ("TIMEOUT", 0, "a number of seconds > 0, or None for no limit, not 0"),
        ("TIMEOUT", math.inf, "a number of seconds > 0, or None for no limit, not inf"),
        ("TIMEOUT", math.nan, "a number of seconds > 0, or None for no limit, not nan"),
        ("CONNECT_TIMEOUT", None, "a number of seconds > 0, not None"),
        ("RETRY_DELAY", -0.5, "a number of seconds >= 0, not -0.5"),
        ("SUDO", "yes", "True or False, not 'yes'"),
        ("SUDO", 1, "True or False, not 1"),
        ("IGNORE_ERRORS", None, "True or False, not None"),
        ("SUDO_USER", 0, "a string or None, not 0"),
        ("SHELL", "", "a non-empty string, not ''"),
        ("SHELL", None, "a non-empty string, not None"),
        ("SU_SHELL", True, "a shell (a non-empty string), or False, not True"),
        ("INHERIT_ENV", "PATH", "a list of names, not 'PATH'"),
        ("INHERIT_ENV", ["PATH", 1], "a list of names, not ('PATH', 1)"),
        (
            "REQUIRE_PACKAGES",
            3,
            "a requirements file, a list of requirements, or None, not 3",
        ),
        ("ENV", ["A=1"], "a mapping of names to strings, not a value of type list"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error(name: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Config(**{name: value})
    assert str(raised.value) == f"config {name} must be {expected}"


def test_a_wrong_secret_value_is_never_shown() -> None:
    with pytest.raises(ConfigError) as raised:
        Config(SUDO_PASSWORD=1234567)  # type: ignore[arg-type]
    assert (
        str(raised.value)
        == "config SUDO_PASSWORD must be a string, a Secret or None, not a value of type int"
    )
    with pytest.raises(ConfigError) as raised:
        Config(ENV={"API_TOKEN": 1234567})  # type: ignore[dict-item]
    assert str(raised.value) == (
        "config ENV must map names to strings: ENV['API_TOKEN'] is a value of type int"
    )


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("FAIL_PERCENT", 33.3, 33.3),  # pyinfra compares it as any number
        ("FAIL_PERCENT", 0, 0),
        ("TIMEOUT", 0.5, 0.5),
        ("RETRY_DELAY", 0, 0),
        ("SU_SHELL", "/bin/bash", "/bin/bash"),
        ("INHERIT_ENV", ["PATH", "HOME"], ("PATH", "HOME")),
        ("REQUIRE_PACKAGES", ["attrs>=23"], ("attrs>=23",)),
        ("REQUIRE_PACKAGES", "requirements.txt", "requirements.txt"),
    ],
)
def test_values_of_the_right_type_are_kept(name: str, value: Any, stored: Any) -> None:
    assert getattr(Config(**{name: value}), name) == stored


def test_env_is_copied() -> None:
    env = {"A": "1"}
    config = Config(ENV=env)
    env["A"] = "2"
    assert config.ENV == {"A": "1"}


# Changing settings (deploy files do: ``config.SUDO = True``)


def test_known_settings_can_be_changed_and_are_checked() -> None:
    config = Config()
    config.SUDO = True
    config.FAIL_PERCENT = 40
    config.INHERIT_ENV = ["PATH"]
    assert (config.SUDO, config.FAIL_PERCENT, config.INHERIT_ENV) == (True, 40, ("PATH",))
    with pytest.raises(ConfigError, match=r"^config PARALLEL must be a whole number >= 0, not -1$"):
        config.PARALLEL = -1
    assert config.PARALLEL == 0  # a refused value changes nothing


def test_an_unknown_setting_cannot_be_set() -> None:
    config = Config()
    with pytest.raises(ConfigError) as raised:
        config.SUDOO = True  # type: ignore[attr-defined]
    assert str(raised.value).startswith(
        "cannot set a config setting that does not exist: SUDOO (did you mean SUDO?); "
    )
    with pytest.raises(ConfigError):
        config.state = object()  # type: ignore[attr-defined]
    assert not hasattr(config, "__dict__") and not hasattr(config, "SUDOO")


def test_a_deploy_file_setting_an_unknown_setting_fails_in_one_line(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from eventstate.context import current_state\n"
        "current_state().config.SUDO = True\n"
        "current_state().config.SUDOO = True\n"
    )
    result = CliRunner().invoke(
        main, ["deploy", "@sim/a", str(deploy), "--db", str(tmp_path / "events.db")]
    )
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1
    assert (
        f"{deploy}:3 on @sim/a: cannot set a config setting that does not exist: SUDOO"
        in (error[0])
    )


def test_the_state_is_not_reachable_from_its_config() -> None:
    config = Config(PARALLEL=2)
    state = State(Inventory((["a", "b"], {})), config)
    assert state.config == config and state.config is not config  # its own copy
    assert not any(value is state for value in state.config.settings().values())
    assert not hasattr(state.config, "state")


# copy, settings, snapshot, repr


def test_copy_keeps_every_setting_and_shares_nothing() -> None:
    config = Config(TIMEOUT=30, SUDO_PASSWORD="hunter2", ENV={"A": "1"}, INHERIT_ENV=["HOME"])
    copy = config.copy()
    assert copy == config and copy is not config
    copy.ENV["A"] = "2"
    assert config.ENV == {"A": "1"}
    changed = config.copy(PARALLEL=4)
    assert (changed.PARALLEL, changed.TIMEOUT, config.PARALLEL) == (4, 30, 0)
    with pytest.raises(ConfigError):
        config.copy(PARALLEL=-4)
    with pytest.raises(ConfigError):
        config.copy(SUDOO=True)


def test_settings_names_every_setting() -> None:
    settings = Config(PARALLEL=3, ENV={"A": "1"}).settings()
    assert list(settings) == list(attrs.fields_dict(Config))
    assert (settings["PARALLEL"], settings["ENV"]) == (3, {"A": "1"})


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SUDO_PASSWORD", True),
        ("SU_PASSWORD", True),
        ("VAULT_TOKEN", True),
        ("CLIENT_SECRET", True),
        ("SSH_KEY", True),
        ("SUDO_USER", False),
        ("TIMEOUT", False),
    ],
)
def test_which_setting_names_are_secrets(name: str, secret: bool) -> None:
    assert eventstate.config._is_secret(name) is secret


def test_the_secret_settings() -> None:
    assert {name for name in attrs.fields_dict(Config) if eventstate.config._is_secret(name)} == (
        SECRETS
    )


def test_the_snapshot_masks_secrets_and_env_values() -> None:
    config = Config(
        SUDO_PASSWORD="hunter2", ENV={"B": "token-b", "A": "token-a"}, INHERIT_ENV=["HOME"]
    )
    snapshot = config.snapshot()
    assert snapshot["SUDO_PASSWORD"] == "***"
    assert snapshot["SU_PASSWORD"] is None  # unset: shown as unset
    assert snapshot["ENV"] == {"A": "***", "B": "***"}
    assert snapshot["INHERIT_ENV"] == ["HOME"]
    assert list(snapshot) == sorted(snapshot) and set(snapshot) == set(attrs.fields_dict(Config))
    text = json.dumps(snapshot)
    assert "hunter2" not in text and "token" not in text
    assert json.loads(text) == snapshot


def test_the_recorded_config_masks_secrets() -> None:
    state = State(Inventory((["a"], {})), Config(SUDO_PASSWORD="hunter2", ENV={"T": "t0ken"}))
    recorded = next(iter(state.log.read(state.run_id))).payload
    assert "hunter2" not in recorded and "t0ken" not in recorded


def test_repr_shows_what_differs_from_the_defaults_never_a_secret() -> None:
    assert repr(Config()) == "Config()"
    assert repr(Config(PARALLEL=10, TIMEOUT=30)) == "Config(TIMEOUT=30, PARALLEL=10)"
    config = Config(SUDO=True, SUDO_PASSWORD="hunter2", ENV={"T": "t0ken"})
    assert repr(config) == "Config(SUDO=True, SUDO_PASSWORD='***', ENV={'T': '***'})"
    assert "hunter2" not in f"{config} {config!s} {[config]}"
    plain = Config(PARALLEL=10, INHERIT_ENV=["HOME"], FAIL_PERCENT=5)
    assert eval(repr(plain), {"Config": Config}) == plain


# from_snapshot


def _every_setting_changed() -> Config:
    return Config(
        FAIL_PERCENT=33.3,
        CONNECT_TIMEOUT=3,
        TIMEOUT=30,
        TEMP_DIR="/var/tmp/x",
        DEFAULT_TEMP_DIR="/var/tmp",
        PARALLEL=7,
        REQUIRE_PYINFRA_VERSION=">=3",
        REQUIRE_PACKAGES=["attrs"],
        SU_USER="admin",
        USE_SU_LOGIN=True,
        SU_SHELL="/bin/bash",
        PRESERVE_SU_ENV=True,
        SU_PASSWORD="su-secret",
        SUDO=True,
        SUDO_USER="deploy",
        PRESERVE_SUDO_ENV=True,
        USE_SUDO_LOGIN=True,
        SUDO_PASSWORD="sudo-secret",
        DOAS=True,
        DOAS_USER="doas",
        DZDO=True,
        DZDO_USER="dzdo",
        IGNORE_ERRORS=True,
        SHELL="bash",
        DIFF=True,
        RETRY=2,
        RETRY_DELAY=0.5,
        INHERIT_ENV=["HOME", "PATH"],
        MAX_OUTPUT=100,
        FLUSH_DELAY=0.25,
        SYNC=True,
        ENV={"TOKEN": "t0ken"},
    )


def test_from_snapshot_restores_every_setting_but_the_secrets_and_env() -> None:
    config = _every_setting_changed()
    assert all(
        getattr(config, name) != default for name, default in DEFAULTS.items()
    )  # the test covers every setting
    restored = Config.from_snapshot(json.loads(json.dumps(config.snapshot())))
    assert restored == config.copy(SU_PASSWORD=None, SUDO_PASSWORD=None, ENV={})
    assert restored.snapshot() == {
        **config.snapshot(),
        "SU_PASSWORD": None,
        "SUDO_PASSWORD": None,
        "ENV": {},
    }


def test_from_snapshot_keeps_a_secret_that_was_recorded_unmasked() -> None:
    # An empty password is not masked (nothing to hide), and comes back as it was.
    assert Config.from_snapshot(Config(SUDO_PASSWORD="").snapshot()).SUDO_PASSWORD == ""


def test_from_snapshot_of_an_older_run_takes_defaults_for_what_it_lacks() -> None:
    restored = Config.from_snapshot({"PARALLEL": 3, "FAIL_PERCENT": 10, "TIMEOUT": 30})
    assert restored == Config(PARALLEL=3, FAIL_PERCENT=10, TIMEOUT=30)
    assert Config.from_snapshot({}) == Config()


def test_from_snapshot_refuses_settings_this_version_does_not_know() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_snapshot({**Config().snapshot(), "SUDOO": True, "NEWER": 1})
    assert str(raised.value).startswith(
        "the recorded config has settings this version does not know: NEWER, SUDOO "
        "(did you mean SUDO?); the settings are "
    )


def test_from_snapshot_checks_the_values() -> None:
    with pytest.raises(ConfigError, match=r"^config PARALLEL must be a whole number >= 0"):
        Config.from_snapshot({"PARALLEL": "3"})


def test_from_snapshot_reads_a_recorded_run_started() -> None:
    config = Config(TIMEOUT=30, RETRY=1, INHERIT_ENV=["HOME"], SUDO_PASSWORD="hunter2")
    state = State(Inventory((["a", "b"], {})), config)
    started = EventCodec().decode(next(iter(state.log.read(state.run_id))).payload)
    assert isinstance(started, RunStarted)
    assert Config.from_snapshot(started.config) == state.config.copy(SUDO_PASSWORD=None)


_settings = st.fixed_dictionaries(
    {},
    optional={
        "FAIL_PERCENT": st.none() | st.integers(0, 100) | st.floats(0, 100),
        "CONNECT_TIMEOUT": st.floats(0.001, 1e6) | st.integers(1, 10**6),
        "TIMEOUT": st.none() | st.floats(0.001, 1e6) | st.integers(1, 10**6),
        "TEMP_DIR": st.none() | st.text(),
        "PARALLEL": st.integers(0, 10**6),
        "REQUIRE_PACKAGES": st.none() | st.text() | st.lists(st.text()).map(tuple),
        "SU_SHELL": st.just(False) | st.text(min_size=1),
        "SUDO": st.booleans(),
        "SUDO_USER": st.none() | st.text(),
        "SUDO_PASSWORD": st.none() | st.text(),
        "SHELL": st.text(min_size=1),
        "RETRY": st.integers(0, 100),
        "RETRY_DELAY": st.floats(0, 1e6) | st.integers(0, 10**6),
        "INHERIT_ENV": st.lists(st.text()).map(tuple),
        "MAX_OUTPUT": st.integers(0, 10**9),
        "FLUSH_DELAY": st.floats(0.001, 1e6) | st.integers(1, 10**6),
        "SYNC": st.booleans(),
        "ENV": st.dictionaries(st.text(), st.text()),
    },
)


@given(_settings)
def test_from_snapshot_round_trips_through_json(settings: dict[str, Any]) -> None:
    config = Config(**settings)
    restored = Config.from_snapshot(json.loads(json.dumps(config.snapshot())))
    # A password is recorded masked, unless it is empty (or unset): then it comes back.
    password = config.SUDO_PASSWORD
    assert restored == config.copy(ENV={}, SUDO_PASSWORD=None if password else password)


def test_require_pyinfra_version_is_checked_against_the_pyinfra_eventstate_follows() -> None:
    from eventstate.errors import PyinfraVersionError
    from eventstate.version import PYINFRA_VERSION

    assert PYINFRA_VERSION == "3.10.0"
    assert Config(REQUIRE_PYINFRA_VERSION=">=3.5,<4").REQUIRE_PYINFRA_VERSION == ">=3.5,<4"
    with pytest.raises(PyinfraVersionError, match=r"requires >=3\.11, running 3\.10\.0\)$"):
        Config(REQUIRE_PYINFRA_VERSION=">=3.11")
    config = Config()
    with pytest.raises(PyinfraVersionError):  # a deploy file's assignment too
        config.REQUIRE_PYINFRA_VERSION = "<3"
    with pytest.raises(ConfigError, match="must be a version specifier"):
        Config(REQUIRE_PYINFRA_VERSION="three")
