"""Data every host has (pyinfra's ``group_data/all.py``); a group's own data wins over it."""

import os
import tempfile

app_root = os.path.join(
    os.environ.get("EVENTSTATE_DEMO_DIR") or tempfile.gettempdir(), "pyinfra-style-app"
)
app_workers = 2
motd = "Managed by a pyinfra-style deploy, recorded by eventstate"
