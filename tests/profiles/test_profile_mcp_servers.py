"""A registry profile's ``mcpServers``: shape checked when read, merged base to leaf by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geppetto.errors import ConfigError
from geppetto.profiles import load_registries


def _registry(tmp_path: Path, profiles: dict[str, object]) -> str:
    path = tmp_path / "profiles.yaml"
    path.write_text(json.dumps({"slug": "work", "profiles": profiles}))
    return str(path)


def test_a_leaf_replaces_its_bases_server_of_the_same_name_and_keeps_the_others(tmp_path: Path) -> None:
    path = _registry(
        tmp_path,
        {
            "base": {"mcpServers": {"fs": {"command": "fs-old"}, "git": {"command": "git-mcp"}}},
            "leaf": {"stack": [{"profile_slug": "base"}], "mcpServers": {"fs": {"command": "fs-new"}}},
        },
    )
    settings = load_registries(path).resolve("leaf")
    servers = {server.name: server for server in settings.mcp_servers()}
    assert sorted(servers) == ["fs", "git"]
    assert servers["fs"].command == "fs-new"
    assert servers["git"].command == "git-mcp"


def test_a_profile_without_servers_has_none(tmp_path: Path) -> None:
    assert load_registries(_registry(tmp_path, {"plain": {}})).resolve("plain").mcp_servers() == []


@pytest.mark.parametrize("value", [3, {"fs": "npx fs"}])
def test_a_badly_shaped_mcp_servers_is_an_error_naming_the_profile(tmp_path: Path, value: object) -> None:
    path = _registry(tmp_path, {"bad": {"mcpServers": value}})
    with pytest.raises(ConfigError) as caught:
        load_registries(path).resolve("bad")
    assert "work/bad" in str(caught.value) and "mcpServers must map server names" in str(caught.value)


def test_an_entry_with_neither_command_nor_url_is_refused_when_the_servers_are_built(tmp_path: Path) -> None:
    path = _registry(tmp_path, {"odd": {"mcpServers": {"fs": {"args": ["x"]}}}})
    with pytest.raises(ConfigError, match="fs"):
        load_registries(path).resolve("odd").mcp_servers()
