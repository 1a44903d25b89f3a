"""pyinfra 3.10's ``tests/test_api/test_api_config.py``, ported (imports renamed)."""

from unittest import TestCase
from unittest.mock import patch

import pytest

from eventstate import Config
from eventstate.errors import EventstateError


class TestStateApi(TestCase):
    def test_require_pyinfra_requirement_ok(self):
        with patch("eventstate.version.__version__", "100"):
            Config(REQUIRE_PYINFRA_VERSION=">=100")

    @pytest.mark.xfail(
        strict=True,
        reason="README: `REQUIRE_PYINFRA_VERSION` is checked against the running pyinfra"
        " | recorded, not checked",
    )
    def test_require_pyinfra_requirement_too_low(self):
        with self.assertRaises(EventstateError) as context:  # noqa: SIM117 - as pyinfra
            with patch("eventstate.version.__version__", "99"):
                Config(REQUIRE_PYINFRA_VERSION=">=100")

        assert context.exception.args[0] == (
            "pyinfra version requirement not met (requires >=100, running 99)"
        )
