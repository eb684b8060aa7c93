"""Area reports, the commissioning pack and the data exports on the real Trafford store."""

from __future__ import annotations

import json
import subprocess
import zipfile
from datetime import date

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from PIL import Image

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.publish import exports, reports
from needsmap.store import StoreReader, areas
from needsmap.store.users import UserStore
from needsmap.terms import colours
from needsmap.voice import blurred_needs, decisions, disclosure, needs

from reports_support import (
    COMMISSIONER,
    CONTACT,
    GROUP,
    MODERATOR,
    PHONE,
    SECRET_WORDS,
    forbidden,
    seed,
)


@pytest.fixture
def seeded(trafford_store: Settings, user_store: UserStore):  # noqa: ANN201
    return seed(trafford_store.store_path, user_store)


@pytest.fixture
def con(trafford_store: Settings):  # noqa: ANN201
    return StoreReader(trafford_store.store_path).cursor()


def test_areas_resolve_by_code_or_name_with_clear_errors(con) -> None:  # noqa: ANN001
    ward = areas.resolve_area(con, "Trafford", ward="gorse hill & cornbrook")
    assert ward.kind == "ward" and ward.code.startswith("E05") and len(ward.lsoas) == 6
    assert areas.resolve_area(con, "E08000009", ward=ward.code).lsoas == ward.lsoas
    lad = areas.resolve_area(con, "Trafford")
    assert lad.kind == "lad" and len(lad.lsoas) == 139 and len(lad.wards) == 21
    chosen = areas.resolve_area(con, "Trafford", lsoas=[ward.lsoas[0], " " + ward.lsoas[1].lower()])
    assert chosen.kind == "selection" and chosen.lsoas == ward.lsoas[:2]
    with pytest.raises(Exception, match="did you mean: Gorse Hill"):
        areas.resolve_area(con, "Trafford", ward="Gorse Hil")
    with pytest.raises(Exception, match="not in Trafford"):
        areas.resolve_area(con, "Trafford", lsoas=["E01000001"])


def test_ward_report_pdf_has_text_and_a_map(con, user_store, settings, seeded, tmp_path) -> None:  # noqa: ANN001
    area = areas.resolve_area(con, "Trafford", ward=seeded.ward)
    report = reports.build(con, user_store, area, settings, pack=True)
    html = reports.render_html(report)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(reports.render_pdf(report, html))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("COMMISSIONING PACK", area.title,
                  "Deprivation profile", "Services by category", "What residents told us",
                  "Largest gaps between need and provision", "You said, we did",
                  "Sources, licences and vintages", "Open Government Licence v3.0",
                  "Contains OS data", "Resident counts from 1 to 9 are not shown",
                  "Weekend food bank at the library", "Gorse Hill Forum", "[phone removed]"):
        assert words in " ".join(text.split()), words
    # the ward's counts are the protected table's ward subtotals, never computed afresh
    ev = reports.evidence(con, user_store, area.lad_code, settings)
    ward_counts = ev.blurred.for_area("ward", seeded.ward, list(area.lsoas))
    shown = report.needs.set_index("category")["shown"]
    assert shown["food"] == disclosure.show(ward_counts["food"])
    # The 3 youth reports are hidden, so the food count, which with the ward's total would give
    # them away, is hidden too (secondary suppression); the total (15 or more) stays.
    total = sum(r[2] for r in needs.approved_counts(user_store) if r[0] in area.lsoas)
    assert total >= 15
    assert (shown["youth"], shown["food"], shown["all_categories"]) == ("c", "c", str(total))
    assert "<b>youth club</b>" not in html and "&lt;b&gt;youth club&lt;/b&gt;" in html
    for secret in (CONTACT, PHONE, SECRET_WORDS):
        assert secret not in text and secret not in html
    # pages as images: the first page carries the map, drawn in the decile colours
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    pixels = {c for _, c in page.getcolors(maxcolors=1 << 20)}
    found = [c for c in colours.DECILE_COLOURS
             if any(sum(abs(a - b) for a, b in zip(_rgb(c), p)) < 12 for p in pixels)]
    assert len(found) >= 3, found


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_exports_open_in_gis_tools_and_hold_no_private_detail(con, user_store, settings, seeded,
                                                               tmp_path) -> None:  # noqa: ANN001
    area = areas.resolve_area(con, "Trafford", ward=seeded.ward)
    ev = reports.evidence(con, user_store, area.lad_code, settings)
    report = reports.build(con, user_store, area, settings, ev=ev, pack=True)
    data = exports.gather(con, user_store, area, settings, ev=ev)
    files = exports.write_all(data, tmp_path / "out", exports.FORMATS, report=report)

    layers = dict(pyogrio.list_layers(files["gpkg"]))
    assert set(layers) >= {"lsoa_measures", "services", "resident_needs", "decisions", "sources"}
    info = pyogrio.read_info(files["gpkg"], layer="lsoa_measures")
    assert info["crs"] == "EPSG:27700" and info["features"] == 6
    assert {"lsoa21_code", "population", "iod2025_imd_decile", "services_food", "gap_food_score",
            "needs_food", "needs_all"} <= set(info["fields"])
    assert "Open Government Licence" in info["layer_metadata"]["DESCRIPTION"]
    needs_layer = pyogrio.read_dataframe(files["gpkg"], layer="resident_needs")
    shown = ev.blurred.by_lsoa(list(area.lsoas))
    for row in needs_layer.itertuples():
        expected = shown.loc[row.lsoa21_code, "food"]
        assert (pd.isna(row.needs_food) and pd.isna(expected)) or row.needs_food == expected
    # the 3 youth reports are hidden, and so is a second cell beside them
    assert pd.isna(shown.loc[seeded.lsoa_a, "youth"])
    assert needs_layer.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()

    parquet = gpd.read_parquet(files["parquet:lsoa_measures"])
    assert parquet.crs.to_epsg() == 27700 and len(parquet) == 6
    meta = json.loads(__import__("pyarrow.parquet", fromlist=["x"]).read_schema(
        files["parquet:resident_needs"]).metadata[b"needsmap"])
    assert "Resident counts from 1 to 9" in meta["suppression_rule"]
    csv = pd.read_csv(files["csv"])
    assert len(csv) == 6 and csv.columns[0] == "lsoa21_code"
    readme = files["readme"].read_text()
    for words in ("Open Government Licence v3.0", "IoD2025 (published 30 October 2025)",
                  "Resident counts from 1 to 9", "EPSG:27700", "`needs_food`"):
        assert words in readme

    texts, binary = forbidden(seeded)
    # the scan finds these details where they really are: the private store itself
    raw = user_store.read().execute("SELECT * FROM needs").df().to_csv().encode()
    assert CONTACT.encode() in raw and f"{seeded.points[0][0]:.6f}".encode() in raw
    blobs = {p.name: p.read_bytes() for p in files.values()}
    with zipfile.ZipFile(files["zip"]) as bundle:
        assert sorted(bundle.namelist()) == sorted(p.name for k, p in files.items() if k != "zip")
        blobs.update({f"zip:{n}": bundle.read(n) for n in bundle.namelist()})
    # compressed formats are also read back and scanned as text (values and geometry as WKT)
    blobs["pdf:text"] = subprocess.run(["pdftotext", str(files["pdf"]), "-"], capture_output=True,
                                       check=True).stdout
    for key, path in files.items():
        if key.startswith("parquet:"):
            blobs[f"{key}:values"] = gpd.read_parquet(path).to_wkt().to_csv().encode()
    for layer in layers:
        frame = pyogrio.read_dataframe(files["gpkg"], layer=layer)
        dump = frame.to_wkt() if isinstance(frame, gpd.GeoDataFrame) else frame
        blobs[f"gpkg:{layer}"] = dump.to_csv().encode()
    for name, blob in blobs.items():
        for t in texts:
            assert t.encode() not in blob, (name, t)
        for b in binary:
            assert b not in blob, (name, b)


def test_report_command_writes_the_same_files(trafford_store, settings, user_store, seeded,
                                              tmp_path, monkeypatch) -> None:  # noqa: ANN001
    user_store.close()  # the command opens the user store itself
    monkeypatch.setenv("NEEDSMAP_STORE", str(trafford_store.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(settings.user_store_path))
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["report", "--area", "Trafford", "--ward", seeded.ward_name,
                                       "--out", str(out), "--format", "pdf,csv,gpkg", "--pack"])
    assert result.exit_code == 0, result.output
    names = sorted(p.suffix for p in out.iterdir())
    assert names == [".csv", ".gpkg", ".json", ".md", ".pdf", ".zip"]
    assert "COMMISSIONING PACK" in subprocess.run(
        ["pdftotext", str(next(out.glob("*.pdf"))), "-"], capture_output=True, text=True).stdout
    bad = CliRunner().invoke(main, ["report", "--area", "Trafford", "--ward", "Nowhere",
                                    "--out", str(out)])
    assert bad.exit_code == 1 and "no ward called or coded 'Nowhere'" in bad.output
    fmt = CliRunner().invoke(main, ["report", "--area", "Trafford", "--out", str(out),
                                    "--format", "docx"])
    assert fmt.exit_code == 1 and "choose from pdf, html, csv, gpkg, parquet" in fmt.output


def test_a_drawn_set_shows_totals_only_when_no_part_is_hidden(con, user_store, settings,
                                                              seeded) -> None:  # noqa: ANN001
    ev = reports.evidence(con, user_store, "E08000009", settings)
    both = areas.resolve_area(con, "Trafford", lsoas=[seeded.lsoa_a, seeded.lsoa_b])
    counts = ev.blurred.for_area("selection", None, list(both.lsoas))
    rows = ev.blurred.by_lsoa(list(both.lsoas))
    for category in blurred_needs.CATEGORIES:
        if rows[category].isna().any():
            assert pd.isna(counts[category])
        else:
            assert counts[category] == rows[category].sum()
    assert pd.isna(counts["youth"])


# What a spreadsheet runs as a formula (OWASP's CSV injection starts) and what it must show.
BIDI_LINK = "https://example.org/files/\u202egpj.exe"  # reads "exe.jpg" wherever rendered
FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1+1)", "-2+3", "+44 7700"]


def test_the_geopackage_hands_out_no_formula(con, user_store, settings, seeded,
                                             tmp_path) -> None:  # noqa: ANN001
    """QGIS and ogr2ogr turn a layer into CSV or XLSX for a spreadsheet: commissioners' words
    in the decisions layer are made inert as the CSV downloads are."""
    for text, category in zip(FORMULAS, ["housing", "transport", "youth", "health"]):
        decisions.record(user_store, COMMISSIONER, decisions.Decision(
            "E08000009", "lsoa21", seeded.lsoa_a, category, "in_progress", date(2026, 2, 1),
            action=text))
    area = areas.resolve_area(con, "Trafford", ward=seeded.ward)
    data = exports.gather(con, user_store, area, settings)
    path = exports.write_gpkg(data, tmp_path / "out.gpkg")
    layer = pyogrio.read_dataframe(path, layer="decisions")
    written = set(layer["reason_or_action"])
    assert {"'" + t for t in FORMULAS} <= written, written  # each kept, behind a quote
    for name in dict(pyogrio.list_layers(path)):
        frame = pyogrio.read_dataframe(path, layer=name)
        for column in frame.columns:
            if frame[column].dtype == object:
                cells = [v for v in frame[column] if isinstance(v, str)]
                assert not [v for v in cells if v.startswith(("=", "+", "-", "@", "\t", "\r"))], \
                    (name, column)


def test_the_report_shows_hidden_characters_in_notes_and_links(con, user_store, settings, seeded,
                                                               tmp_path) -> None:  # noqa: ANN001
    """A bidi override makes '...\u202egpj.exe' read '...exe.jpg': the HTML and PDF report show
    it as a visible code, so a reader sees the link's real end."""
    note = needs.annotate(user_store, GROUP, area_level="ward", area_code=seeded.ward,
                          body="Photos of the \u202egpj.exe damp", evidence_url=BIDI_LINK)
    needs.moderate(user_store, MODERATOR, "annotation", note, "approve")
    area = areas.resolve_area(con, "Trafford", ward=seeded.ward)
    report = reports.build(con, user_store, area, settings, pack=True)
    html = reports.render_html(report)
    assert "\u202e" not in html
    assert "https://example.org/files/[U+202E]gpj.exe" in html
    assert "Photos of the [U+202E]gpj.exe damp" in html
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(reports.render_pdf(report, html))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "[U+202E]gpj.exe" in text and "\u202e" not in text


def test_the_pack_says_who_has_been_heard_by_decile_ward_and_age(con, user_store, settings,
                                                                  seeded) -> None:  # noqa: ANN001
    import re

    from needsmap.voice import about_you

    approved = [i for (i,) in user_store.read().execute(
        "SELECT id FROM needs WHERE status = 'approved' AND lsoa21_code = ? ORDER BY id",
        [seeded.lsoa_a]).fetchall()]
    for i in approved[:12]:            # twelve people aged 35 to 49 said so; the rest did not answer
        about_you.save(user_store, i, about_you.AboutYou("age_35_49", {}, consent=True), [])
    area = areas.resolve_area(con, "Trafford")
    report = reports.build(con, user_store, area, settings, pack=True, with_map=False)
    html = reports.render_html(report)
    assert reports.render_html(reports.build(con, user_store, area, settings, with_map=False)).count(
        "Who has been heard") == 0                                   # the pack only
    section = html[html.index("<h2>Who has been heard</h2>"):]
    section = section[:section.index("</section>")]
    # the approved reports' deciles, from the two stores
    placed = user_store.read().execute("SELECT lsoa21_code, count(*) FROM needs WHERE status = "
                                       "'approved' GROUP BY 1").fetchall()
    decile = dict(con.execute("SELECT lsoa_code, decile FROM iod_domain WHERE release = 2025 AND "
                              "domain = 'imd' AND lsoa_code IN (SELECT unnest(?))",
                              [[code for code, _ in placed]]).fetchall())
    per_decile: dict[int, int] = {}
    for lsoa, n in placed:
        per_decile[decile[lsoa]] = per_decile.get(decile[lsoa], 0) + n
    assert sum(per_decile.values()) == 17
    rows = {int(m[0]): re.findall(r'<td class="n">(?:<strong>)?([^<]*)', m[1])
            for m in re.findall(r'<tr><td class="n">(\d+)</td>(.*?)</tr>', section, re.S)}
    # the columns by their headings: reports, affects me too, notes, priority votes, all
    header = re.findall(r"<th>([^<]*)", section[:section.index("</thead>")])
    assert "Priority votes" in header                # schema step 8: every store counts ballots
    at = header.index("All taking part") - 1         # the first heading is the decile's
    for d, n in per_decile.items():
        expected = str(n) if n >= settings.suppress_below else "c"
        assert rows[d][at] == expected, (d, rows[d])
    for cells in rows.values():                      # no count from 1 to 9 anywhere in the table
        assert not any(c.isdigit() and 0 < int(c) < settings.suppress_below for c in cells[:at + 1])
    assert seeded.ward_name.replace("&", "&amp;") in section
    # ages: 12 said 35 to 49, nobody else answered, so shares are shown; 65+ against the census
    share = con.execute("SELECT sum(age_65_plus) / sum(total) FROM population p JOIN lsoa21_lookup l "
                        "USING (lsoa21_code) WHERE l.lad_code = 'E08000009'").fetchone()[0]
    assert f"People aged 65 and over are {share:.0%} of residents and 0% of those who took part." in section
    assert ">100%<" in section
    assert "Voice gap" in section and "Census 2021" in section and "Resident counts from 1 to 9" in section
