"""The example deploy: ``pyinfra inventory.py deploy.py`` (or ``eventstate deploy``)."""

from pyinfra import host, local
from pyinfra.api import deploy
from pyinfra.operations import files

root = host.data.app_root

files.directory(name="Create the app's root", path=root, mode="755")


@deploy("Release")
def release(version):
    files.directory(path=f"{root}/releases/{version}", mode="755")
    files.link(path=f"{root}/current", target=f"{root}/releases/{version}")


release(host.data.app_version)

local.include("./tasks/configure.py", data={"config_name": "app.conf"})
