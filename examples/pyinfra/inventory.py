"""The example's hosts: one app server, reached over SSH.

Where it is comes from the environment, so that the same file reaches a test
server: EXAMPLE_SSH_HOST, EXAMPLE_SSH_PORT, EXAMPLE_SSH_USER, EXAMPLE_SSH_KEY,
EXAMPLE_SSH_KNOWN_HOSTS and EXAMPLE_SSH_CONFIG (unset: pyinfra's defaults).
"""

import os

_ssh = {
    "ssh_port": os.environ.get("EXAMPLE_SSH_PORT"),
    "ssh_user": os.environ.get("EXAMPLE_SSH_USER"),
    "ssh_key": os.environ.get("EXAMPLE_SSH_KEY"),
    "ssh_known_hosts_file": os.environ.get("EXAMPLE_SSH_KNOWN_HOSTS"),
    "ssh_config_file": os.environ.get("EXAMPLE_SSH_CONFIG"),
}
_ssh_data = {key: value for key, value in _ssh.items() if value is not None}
if "ssh_port" in _ssh_data:
    _ssh_data["ssh_port"] = int(_ssh_data["ssh_port"])

_app_host = os.environ.get("EXAMPLE_SSH_HOST", "127.0.0.1")

# A group is a list of hosts, a host a name or (name, data)...
app_servers = [
    (_app_host, {**_ssh_data, "app_port": 8080}),
]

# ...or a group is (hosts, data): the group's data, under each host's own.
releases = ([_app_host], {"app_version": "1.2.0", "app_port": 80})
