"""A deploy written for pyinfra 3.10; only its ``pyinfra`` imports are renamed.

    eventstate deploy examples/pyinfra_style/inventory.py examples/pyinfra_style/deploy.py

It reads ``host.data`` (from the inventory's ``(hosts, data)`` groups and
``group_data/all.py``), groups ops in a ``@deploy`` function, includes a task
file with ``local.include``, and asks a fact with keyword arguments.
"""

from eventstate import local  # was: from pyinfra import local
from eventstate.context import host  # was: from pyinfra import host
from eventstate.deploy_decorator import deploy  # was: from pyinfra.api import deploy
from eventstate.facts.files import File  # was: from pyinfra.facts.files import File
from eventstate.operations import files, server  # was: from pyinfra.operations import ...


@deploy("Configure the app")
def configure_app(workers: int) -> None:
    root = host.data.app_root
    files.directory(name="App directory", path=root, mode="755")
    files.file(name="App config", path=f"{root}/app.conf", mode="644")
    files.line(
        name="Listen port",
        path=f"{root}/app.conf",
        line=f"port = {host.data.app_port}",
    )
    files.line(name="Workers", path=f"{root}/app.conf", line=f"workers = {workers}")


configure_app(workers=host.data.app_workers)
local.include("./tasks/motd.py")  # "./": beside this file, as pyinfra resolves it

# A fact with keyword arguments, as pyinfra deploys ask them.
config_file = host.get_fact(File, path=f"{host.data.app_root}/app.conf")
if config_file is None:
    server.shell(name="First run", commands=[f"echo first run of {host.data.app_name}"])
