"""The engine's version, recorded in every run it starts."""

__version__ = "0.1.0"

#: The pyinfra release whose semantics eventstate follows: what a deploy's
#: ``REQUIRE_PYINFRA_VERSION`` is checked against.
PYINFRA_VERSION = "3.10.0"
