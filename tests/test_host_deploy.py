"""Host.deploy: the context a @deploy runs its operations in (pyinfra 3.10's)."""

from __future__ import annotations

from eventstate import Host, Inventory


def _host() -> Host:
    return Inventory((["somehost"], {"role": "web"})).get_host("somehost")


def test_data_defaults_below_the_hosts_data_inside_the_block_only() -> None:
    host = _host()

    with host.deploy("app", None, {"role": "default", "port": 80}):
        assert host.in_deploy is True
        assert host.data.role == "web"
        assert host.data.port == 80
        assert host.current_deploy_data == {"role": "default", "port": 80}

    assert host.data.get("port") is None
    assert host.in_deploy is False


def test_nested_ifs_must_all_hold() -> None:
    host = _host()

    def outer() -> bool:
        return True

    def inner() -> bool:
        return False

    with host.deploy("outer", {"_if": outer}, None):
        with host.deploy("inner", {"_if": inner}, None):
            assert host.current_deploy_kwargs == {"_if": [outer, inner]}
        # An inner deploy that inherits the outer's condition does not repeat it.
        with host.deploy("inner", {"_if": outer}, None):
            assert host.current_deploy_kwargs == {"_if": outer}
        assert host.current_deploy_kwargs == {"_if": outer}


def test_kwargs_are_copied() -> None:
    host = _host()
    kwargs = {"_sudo": True}

    with host.deploy("app", kwargs, None):
        host.current_deploy_kwargs["_sudo"] = False  # type: ignore[index]

    assert kwargs == {"_sudo": True}
