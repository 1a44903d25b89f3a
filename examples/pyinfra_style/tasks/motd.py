"""Included by ``deploy.py`` with ``local.include``: its ops are named under this file."""

from eventstate.context import host  # was: from pyinfra import host
from eventstate.operations import files  # was: from pyinfra.operations import files

files.line(
    name="Write the message of the day",
    path=f"{host.data.app_root}/motd",
    line=host.data.motd,
)
