"""Built-in operations, each idempotent: a second run of the same deploy changes nothing.

``server.shell``, ``server.service``, ``files.directory``, ``files.file``,
``files.line``, ``files.put``, ``apt.update``, ``apt.packages``.
"""

from eventstate.operations import apt, files, server

__all__ = ["apt", "files", "server"]
