"""End to end: an analyst downloads a Trafford ward report (PDF), a CSV and a GeoPackage from
the Reports page in Chromium, opens each, and a commissioner records a decision that then shows
on the map. Screenshots go to test-artifacts/."""

from __future__ import annotations

import dataclasses
import subprocess

import pandas as pd
import pyogrio
import pytest

from needsmap.store.users import open_user_store
from needsmap.voice.accounts import create_account

from dashboard_support import ROOT, choose, chromium_page, map_frame, require_browser, serve
from reports_support import CONTACT, PHONE, seed

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "commission-this-2026"
# JavaScript run in the map's iframe: the decision markers and their tooltips.
JS_DECISION_TIPS = """() => { const out = []; window.map.eachLayer(l => {
    if (l.getTooltip && l.getTooltip() && l.options.icon &&
        l.options.icon.options.className === 'needsmap-decision')
        out.push(l.getTooltip().getContent()); }); return out; }"""
JS_COUNT_DECISIONS = f"() => ({JS_DECISION_TIPS})().length"


@pytest.fixture(scope="module")
def app(trafford_store, tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("e2e-reports")
    settings = dataclasses.replace(trafford_store, user_store_path=tmp / "user.duckdb")
    store = open_user_store(settings)
    seeded = seed(trafford_store.store_path, store)
    create_account(store, "cara", PASSWORD, "commissioner", "Cara Commissioner")
    store.close()  # the app process opens it
    with serve(tmp, NEEDSMAP_STORE=str(trafford_store.store_path),
               NEEDSMAP_USER_STORE=str(settings.user_store_path)) as url:
        yield url, seeded



def _download(pg, label: str, target):
    with pg.expect_download() as info:
        pg.get_by_role("button", name=label).click()
    download = info.value
    path = target / download.suggested_filename
    download.save_as(path)
    return path


def test_reports_page_downloads_open(app, tmp_path) -> None:
    url, seeded = app
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as pg:
        pg.goto(url)
        pg.get_by_role("link", name="Reports").click()
        pg.get_by_role("heading", name="Reports and data").wait_for()
        choose(pg, "Ward (type to search)", seeded.ward_name)
        pg.get_by_text("Commissioning pack (adds the").click()
        pg.get_by_role("button", name="Prepare the report and data files").click()
        pg.get_by_role("button", name="Report (PDF)").wait_for(timeout=120_000)
        pg.screenshot(path=ARTIFACTS / "reports-01-prepared.png", full_page=True)

        pdf = _download(pg, "Report (PDF)", tmp_path)
        csv = _download(pg, "Data (CSV, one row per small area)", tmp_path)
        gpkg = _download(pg, "Map data (GeoPackage for QGIS)", tmp_path)

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        text = " ".join(text.split())
        assert "COMMISSIONING PACK" in text and seeded.ward_name in text
        assert "You said, we did" in text and "Weekend food bank at the library" in text
        assert CONTACT not in text and PHONE not in text
        frame = pd.read_csv(csv)
        assert len(frame) == 6 and set(frame["ward_name"]) == {seeded.ward_name}
        assert "needs_food" in frame.columns and "iod2025_imd_decile" in frame.columns
        assert {"lsoa_measures", "services", "resident_needs"} <= set(
            dict(pyogrio.list_layers(gpkg)))
        assert pyogrio.read_info(gpkg, layer="lsoa_measures")["crs"] == "EPSG:27700"

        # a commissioner signs in and records a decision; it shows in the log and on the map
        # through the app's own sign-in, which the Reports page links to
        pg.get_by_text("Commissioners sign in to record a decision.").wait_for()
        pg.get_by_role("link", name="Sign in").last.click()
        pg.get_by_role("textbox", name="Username").fill("cara")
        pg.get_by_role("textbox", name="Password").fill(PASSWORD)
        pg.get_by_role("button", name="Sign in", exact=True).click()
        pg.get_by_role("heading", name="Your account").wait_for()
        pg.get_by_role("link", name="Reports").click()
        pg.get_by_role("heading", name="Reports and data").wait_for()
        choose(pg, "Ward (type to search)", seeded.ward_name)
        pg.get_by_text("Recording as Cara Commissioner").wait_for()
        choose(pg, "Category", "Young people")
        choose(pg, "Decision", "Declined")
        pg.get_by_label("Reason, if declined (residents read this)").fill(
            "A youth club opened <next door> in 2025")
        pg.get_by_role("spinbutton", name="Budget (£, optional)").fill("5000")
        pg.get_by_role("button", name="Record the decision").click()
        pg.get_by_text("Recorded. It shows on the map").wait_for()
        pg.screenshot(path=ARTIFACTS / "reports-02-decision.png", full_page=True)
        # the next decision starts from an empty form, never the last one's budget or words
        budget = pg.get_by_role("spinbutton", name="Budget (£, optional)")
        assert budget.input_value() == ""
        assert pg.get_by_label("Reason, if declined (residents read this)").input_value() == ""
        decision = pg.locator("[data-testid='stSelectbox']").filter(has_text="Decision")
        assert "Declined" not in decision.inner_text()

        pg.get_by_role("link", name="Map", exact=True).click()
        frame = map_frame(pg, JS_COUNT_DECISIONS)
        pg.get_by_text("White diamonds: commissioners' decisions").wait_for()
        tips = frame.evaluate(JS_DECISION_TIPS)
        assert any("Declined" in t and "&lt;next door&gt;" in t for t in tips), tips
        assert any("Commissioned" in t for t in tips), tips
        pg.screenshot(path=ARTIFACTS / "reports-03-map-decisions.png", full_page=True)
        assert pg.context.external == [], pg.context.external
