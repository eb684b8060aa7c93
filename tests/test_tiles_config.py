"""Base tiles are off by default, drawn with their credit when set, refused without one."""

from __future__ import annotations

import pytest

from needsmap.config import load_settings
from needsmap.errors import ConfigError

URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"


def test_tiles_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEEDSMAP_TILES_URL", raising=False)
    settings = load_settings()
    assert settings.tiles_url is None


def test_tiles_without_attribution_are_refused() -> None:
    with pytest.raises(ConfigError, match="set NEEDSMAP_TILES_ATTRIBUTION"):
        load_settings(tiles_url=URL, tiles_attribution=" ")


def test_tiles_need_an_xyz_address() -> None:
    with pytest.raises(ConfigError, match=r"\{z\}, \{x\} and \{y\}"):
        load_settings(tiles_url="http://127.0.0.1:9/tile.png", tiles_attribution="Credit")


def test_base_map_draws_tiles_with_credit(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import mapview

    bounds = [[53.4, -2.4], [53.5, -2.2]]
    monkeypatch.delenv("NEEDSMAP_TILES_URL", raising=False)
    plain = mapview.base_map(bounds).get_root().render()
    assert "L.tileLayer" not in plain and '"attributionControl": false' in plain
    monkeypatch.setenv("NEEDSMAP_TILES_URL", URL)
    monkeypatch.setenv("NEEDSMAP_TILES_ATTRIBUTION", "Test tiles credit")
    tiled = mapview.base_map(bounds).get_root().render()
    assert "L.tileLayer" in tiled and URL in tiled
    assert "Test tiles credit" in tiled and '"attributionControl": true' in tiled
