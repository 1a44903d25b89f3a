"""Inventory files as pyinfra 3.10 reads them: groups with data, ``all``, ``group_data/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstate.deploy import load_inventory


def test_groups_with_data_all_and_group_data_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no group_data in the working directory but this one
    inventory = tmp_path / "production.py"
    inventory.write_text(
        "web = ['@sim/web1', ('@sim/web2', {'port': 8080})]\n"
        "db = (['@sim/db1'], {'role': 'db', 'port': 5432})\n"
        "all = (['@sim/web1', '@sim/db1'], {'region': 'eu'})\n"
    )
    group_data = tmp_path / "group_data"
    group_data.mkdir()
    (group_data / "all.py").write_text("import os\nntp = 'pool.ntp.org'\nregion = 'eu-west'\n")
    (group_data / "web.py").write_text("from pathlib import Path\nrole = 'web'\nport = 80\n")
    (group_data / "monitoring.py").write_text("alerts = True\n")  # a group with no host yet

    loaded = load_inventory(str(inventory))
    assert [h.name for h in loaded] == ["@sim/web1", "@sim/db1", "@sim/web2"]
    web1, web2, db1 = (loaded.get_host(n) for n in ("@sim/web1", "@sim/web2", "@sim/db1"))
    assert (web1.data.role, web1.data.port, web2.data.port) == ("web", 80, 8080)
    assert (db1.data.role, db1.data.port) == ("db", 5432)
    # all's data and group_data/all.py are everyone's; the file wins over the inline data.
    assert {h.data.ntp for h in loaded} == {"pool.ntp.org"}
    assert {h.data.region for h in loaded} == {"eu-west"}
    assert "os" not in web1.data and "Path" not in web1.data  # imports are not data
    assert loaded.get_group_data("monitoring") == {"alerts": True}
    assert loaded.get_group("monitoring") == []
    # Every host is in the group named after the file, as pyinfra.
    assert [h.name for h in loaded.get_group("production")] == [h.name for h in loaded]
    assert sorted(loaded.groups) == ["db", "monitoring", "production", "web"]


def test_group_data_for_the_files_own_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inventory = tmp_path / "production.py"
    inventory.write_text("web = ['@sim/web1']\n")
    (tmp_path / "group_data").mkdir()
    (tmp_path / "group_data" / "production.py").write_text("region = 'eu'\n")
    loaded = load_inventory(str(inventory))
    assert [h.name for h in loaded.get_group("production")] == ["@sim/web1"]
    assert loaded.get_host("@sim/web1").data.region == "eu"
