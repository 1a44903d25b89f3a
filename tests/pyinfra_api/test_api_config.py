"""pyinfra 3.10's ``tests/test_api/test_api_config.py``, ported (imports renamed).

pyinfra checks ``REQUIRE_PYINFRA_VERSION`` against its own version
(``pyinfra.api.config.__version__``); eventstate against the pyinfra release it
follows, ``eventstate.config.PYINFRA_VERSION``: that is what is patched.
"""

from unittest import TestCase
from unittest.mock import patch

from eventstate import Config
from eventstate.errors import EventstateError


class TestStateApi(TestCase):
    def test_require_pyinfra_requirement_ok(self):
        with patch("eventstate.config.PYINFRA_VERSION", "100"):
            Config(REQUIRE_PYINFRA_VERSION=">=100")

    def test_require_pyinfra_requirement_too_low(self):
        with self.assertRaises(EventstateError) as context:  # noqa: SIM117 - as pyinfra
            with patch("eventstate.config.PYINFRA_VERSION", "99"):
                Config(REQUIRE_PYINFRA_VERSION=">=100")

        assert context.exception.args[0] == (
            "pyinfra version requirement not met (requires >=100, running 99)"
        )
