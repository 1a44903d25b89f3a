"""The example deploy: configure a directory on this machine, and "install" web servers.

On ``@local`` it writes into ``.eventstate-demo`` at the top of this checkout
(``$EVENTSTATE_DEMO_DIR`` if set), so it runs on any machine, and each checkout
has its own: the first run there makes the changes, a second changes nothing.
"""

import os
from io import StringIO

from eventstate.context import current_host
from eventstate.operations import apt, files, server

host = current_host()
# This file's checkout, from its real path: a rerun of the recorded run (which names the
# file by its absolute path) writes to the same place.
checkout = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
root = os.environ.get("EVENTSTATE_DEMO_DIR") or os.path.join(checkout, ".eventstate-demo")

if host.name == "@local":
    files.directory(root, mode=755)
    files.directory(f"{root}/conf.d", mode=750)
    files.file(f"{root}/conf.d/app.conf", mode=640)
    files.line(f"{root}/conf.d/app.conf", "listen = 8080")
    files.line(f"{root}/conf.d/app.conf", "workers = 4")
    files.put(StringIO("Hello from eventstate\n"), f"{root}/index.html", mode=644)
else:
    apt.packages(["nginx", "curl"], update=True)
    files.directory("/var/www/site")
    if "web" in host.groups:
        server.service("nginx", running=True, enabled=True)
        # Flaky on the simulated hosts (see the inventory): an error, ignored, and recorded.
        server.shell("nginx -s reload", name="Reload nginx", _ignore_errors=True)
