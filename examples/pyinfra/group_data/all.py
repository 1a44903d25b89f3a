"""Every host's data: pyinfra reads group_data/all.py beside the inventory."""

import os

app_name = "example"
app_root = os.environ.get("EXAMPLE_APP_ROOT", "/opt/example")
app_version = "1.0.0"
