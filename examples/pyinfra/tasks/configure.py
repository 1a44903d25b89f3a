"""The app's configuration, included by deploy.py with its own data."""

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.server import LinuxName
from pyinfra.operations import files, server

config = f"{host.data.app_root}/{host.data.config_name}"
files.file(path=config, mode="644")
files.line(path=config, line=f"name = {host.data.app_name}")
files.line(path=config, line=f"port = {host.data.app_port}")
files.line(path=config, line=f"os = {host.get_fact(LinuxName)}")

stamp = f"{host.data.app_root}/installed"
if not host.get_fact(File, path=stamp):
    server.shell(name="Mark the install", commands=[f"date -u > {stamp}"])
