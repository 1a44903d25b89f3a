"""Built-in operations, each idempotent: a second run of the same deploy changes nothing.

``server.shell``, ``server.service``, ``files.directory``, ``files.file``,
``files.line``, ``files.put``, ``files.get``, ``apt.update``, ``apt.packages``,
and ``python.call`` (Python on the controller; not idempotent).
"""

from eventstate.operations import apt, files, python, server

__all__ = ["apt", "files", "python", "server"]
