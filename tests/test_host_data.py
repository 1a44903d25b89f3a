"""Host data as pyinfra 3.10 has it: attribute reads, copies per read, per-host settings."""

from __future__ import annotations

import pytest

from eventstate import Inventory


def _inventory() -> Inventory:
    return Inventory(
        ([("web1", {"port": 8080}), "web2"], {"app_dir": "/srv/app"}),
        web=(["web1", "web2"], {"packages": ["nginx"], "port": 80}),
    )


def test_data_reads_as_attributes_keys_and_get() -> None:
    web1 = _inventory().get_host("web1")
    assert web1.data.app_dir == web1.data["app_dir"] == web1.data.get("app_dir") == "/srv/app"
    assert web1.data.port == 8080  # host data over group data
    assert web1.data.get("missing", "default") == "default"
    with pytest.raises(AttributeError, match="Host `web1` has no data `missing`"):
        _ = web1.data.missing
    with pytest.raises(KeyError):
        _ = web1.data["missing"]


def test_a_value_read_from_group_data_is_each_hosts_own() -> None:
    inventory = _inventory()
    web1, web2 = inventory.get_host("web1"), inventory.get_host("web2")
    packages = web1.data.packages
    packages.append("curl")  # pyinfra: a copy per read, so this sticks nowhere
    assert web1.data.packages == ["nginx"] == web2.data.packages
    assert inventory.get_group_data("web")["packages"] == ["nginx"]


def test_setting_data_sets_it_for_that_host_only() -> None:
    inventory = _inventory()
    web1, web2 = inventory.get_host("web1"), inventory.get_host("web2")
    web1.data.port = 9000
    web1.data.extra = "yes"
    assert (web1.data.port, web2.data.port) == (9000, 80)
    assert web1.data.dict()["extra"] == "yes" and "extra" not in web2.data
