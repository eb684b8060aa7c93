"""A services load that fails as a whole leaves the stored services and the store file as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import DownloadError
from needsmap.sources._http import sha256_file
from needsmap.store import StoreReader
from needsmap.testing import loopback_server
from conftest import make_settings


def _services(s: Settings) -> list[tuple]:
    cur = StoreReader(s.store_path).cursor()
    return cur.execute("SELECT service_id, name, geocode_method, lsoa21_code, also_listed_as "
                       "FROM services ORDER BY service_id").fetchall()


def test_a_list_that_is_a_web_page_changes_nothing(store_copy: Settings, mirror: Path) -> None:
    before, digest = _services(store_copy), sha256_file(store_copy.store_path)
    assert len(before) > 1000
    with loopback_server(mirror) as server:
        server.fault("trafford/services/trafford_libraries.csv", "html")
        over_http = make_settings(store_copy.data_dir, server.url)
        with pytest.raises(DownloadError, match="web page"):
            ingest.run(["services"], over_http, area="Trafford")
        # the lists before it were fetched and loaded into the build, then thrown away
        assert any("food_banks" in h for h in server.hits)
    assert sha256_file(store_copy.store_path) == digest
    assert _services(store_copy) == before
    assert not list(store_copy.data_dir.glob("needsmap.duckdb.build-*"))


def test_a_pipeline_raising_mid_way_changes_nothing(store_copy: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    before, digest = _services(store_copy), sha256_file(store_copy.store_path)
    loaded: list[str] = []
    real = dict(ingest.PIPELINES)

    def wrap(dataset_id: str):  # noqa: ANN202
        def run(ctx):  # noqa: ANN001, ANN202
            if dataset_id == "charities_trafford":
                # wipe what is stored first, as a buggy pipeline might, then fail
                ctx.con.execute("DELETE FROM services")
                raise RuntimeError("disk on fire")
            loaded.append(dataset_id)
            return real[dataset_id](ctx)
        return run

    for d in ingest.GROUPS["services"]:
        monkeypatch.setitem(ingest.PIPELINES, d, wrap(d))
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest.run(["services"], store_copy, area="Trafford")
    assert "services_trafford_food_banks" in loaded
    assert sha256_file(store_copy.store_path) == digest
    assert _services(store_copy) == before
