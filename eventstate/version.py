"""The engine's version, recorded in every run it starts."""

__version__ = "0.1.0"
