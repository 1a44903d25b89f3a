"""The example inventory: this machine, and simulated web and database hosts.

Every top-level list is a group; ``<group>_data`` is its data, ``data`` everyone's.
"""

local = ["@local"]

web = ["@sim/web1", "@sim/web2", "@sim/web3"]
web_data = {
    # Simulated hosts: a little latency, and one command that sometimes fails.
    "sim_latency": 0.005,
    "sim_fail_patterns": {"reload": 0.3},
    "sim_outputs": {"systemctl is-active": "inactive\ndisabled\n", "dpkg-query": "ii curl 8.0\n"},
}

db = ["@sim/db1"]
db_data = {"sim_latency": 0.005}

data = {"sim_seed": 7}
