"""A pyinfra inventory, unchanged: groups written as ``(hosts, data)``.

Group data also comes from ``group_data/all.py`` (every host) and
``group_data/<group>.py``, beside this file, as pyinfra reads them.
"""

app_servers = (
    ["@local"],
    {"app_name": "shop", "app_port": 8080},
)

sim_servers = (
    ["@sim/web1", "@sim/web2"],
    {"app_name": "shop-sim", "app_port": 9090, "sim_latency": 0.001},
)
