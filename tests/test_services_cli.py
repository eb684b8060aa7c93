"""`needsmap ingest services --area Trafford` on an empty store loads what it places records with."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.store import StoreReader


def test_ingest_services_alone_on_an_empty_store(tmp_path: Path, mirror: Path,
                                                 trafford_store: Settings) -> None:
    env = {"NEEDSMAP_DATA_DIR": str(tmp_path), "NEEDSMAP_STORE": str(tmp_path / "s.duckdb"),
           "NEEDSMAP_CACHE": str(tmp_path / "raw"), "NEEDSMAP_MIRROR": str(mirror),
           "NEEDSMAP_ORUK_FEEDS": ""}
    result = CliRunner().invoke(main, ["ingest", "services", "--area", "Trafford"], env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    out = result.output
    assert "Loaded into" in out and "for Trafford" in out
    loaded = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and " rows " in line}
    # what records are placed with, loaded first because the store had none
    assert {"boundaries_lsoa21", "postcodes_onspd_trafford", "postcodes_england"} <= loaded
    assert {"services_trafford_food_banks", "services_trafford_pharmacies", "charities_trafford",
            "grants_trafford_360giving"} <= loaded
    assert "Not placed in an LSOA of the area (by dataset and reason):" in out
    ng = out.split("Not placed in an LSOA of the area")[1]
    assert "services_trafford_mental_health: 1 not geocoded: malformed postcode" in ng
    assert "charities_trafford:" in ng and "placed in LSOAs outside the loaded area" in ng
    # the same services, placed in the same LSOAs, as when everything is loaded together
    sql = "SELECT service_id, geocode_method, lsoa21_code, also_listed_as FROM services ORDER BY 1"
    alone = StoreReader(tmp_path / "s.duckdb").cursor().execute(sql).fetchall()
    assert len(alone) > 1000
    assert alone == StoreReader(trafford_store.store_path).cursor().execute(sql).fetchall()
