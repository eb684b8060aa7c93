"""The Charity Commission's national extract, in the layout the Commission publishes.

The national files are not in the offline mirror, so each test builds the three zips the way the
Commission serves them (one JSON array with a byte-order mark, or unquoted tab-separated text
with a header; the published field names) from the real register rows of Trafford Data Lab's
extract, and serves them from a mirror folder or over HTTP at the publisher's own paths.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from needsmap import ingest
from needsmap.analysis import coverage
from needsmap.cli import main
from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.ingest.services import charity_register as cr
from needsmap.ingest.services import shared
from needsmap.ingest.services.charity_areas import COUNTIES, AreaMatcher, area_key
from needsmap.sources import files, registry
from needsmap.store import StoreReader, geocode
from needsmap.terms import charity_classification as cc
from needsmap.terms import taxonomy
from needsmap.testing import loopback_server
from conftest import make_settings

# The charity table's fields, in the published order.
CHARITY_FIELDS = [
    "date_of_extract", "organisation_number", "registered_charity_number", "linked_charity_number",
    "charity_name", "charity_type", "charity_registration_status", "date_of_registration",
    "date_of_removal", "charity_reporting_status", "latest_acc_fin_period_start_date",
    "latest_acc_fin_period_end_date", "latest_income", "latest_expenditure",
    *[f"charity_contact_address{i}" for i in range(1, 6)], "charity_contact_postcode",
    "charity_contact_phone", "charity_contact_email", "charity_contact_web",
    "charity_company_registration_number", "charity_insolvent", "charity_in_administration",
    "charity_previously_excepted", "charity_is_cdf_or_cif", "charity_is_cio", "cio_is_dissolved",
    "date_cio_dissolution_notice", "charity_activities", "charity_gift_aid", "charity_has_land",
]
CLASS_FIELDS = ["date_of_extract", "organisation_number", "registered_charity_number",
                "linked_charity_number", "classification_code", "classification_type",
                "classification_description"]
AOO_FIELDS = ["date_of_extract", "organisation_number", "registered_charity_number",
              "linked_charity_number", "geographic_area_type", "geographic_area_description",
              "parent_geographic_area_type", "parent_geographic_area_description", "welsh_ind"]
EXTRACT = "2023-04-05T00:00:00"
TRAFFORD = "E08000009"


def _na(v: str | None) -> str | None:
    return None if v is None or v.strip() in ("", "NA") else v


def _published(r: dict[str, str]) -> dict[str, Any]:
    """A Trafford Data Lab row under the register's own field names (what the lab's copy lacks
    is null, as in the register for an unknown value)."""
    parts = [p.strip() for p in (_na(r["charity_contact_address"]) or "").split(",") if p.strip()]
    parts = [*parts[:4], ", ".join(parts[4:])] if len(parts) > 5 else parts
    row: dict[str, Any] = {f: None for f in CHARITY_FIELDS}
    row.update({
        "date_of_extract": EXTRACT, "registered_charity_number": int(r["registered_charity_number"]),
        "linked_charity_number": 0, "charity_name": r["charity_name"], "charity_type": _na(r["charity_type"]),
        "charity_registration_status": "Registered",
        "date_of_registration": f"{r['date_of_registration']}T00:00:00" if _na(r["date_of_registration"]) else None,
        "charity_contact_postcode": _na(r["charity_contact_postcode"]),
        "charity_contact_phone": _na(r["charity_contact_phone"]),
        "charity_contact_email": _na(r["charity_contact_email"]),
        "charity_contact_web": _na(r["charity_contact_web"]),
        "charity_company_registration_number": _na(r["charity_company_registration_number"]),
        "charity_activities": _na(r["charity_activities"]),
    })
    for i, p in enumerate(parts, start=1):
        row[f"charity_contact_address{i}"] = p
    return row


def _side(number: int, **values: Any) -> dict[str, Any]:
    return {"date_of_extract": EXTRACT, "organisation_number": None,
            "registered_charity_number": number, "linked_charity_number": 0, **values}


def _cls(number: int, code: int) -> dict[str, Any]:
    c = cc.BY_CODE.get(code)
    return _side(number, classification_code=code, classification_type=c.kind if c else "What",
                 classification_description=c.description if c else "Unlisted")


def _aoo(number: int, kind: str, place: str, welsh: bool = False) -> dict[str, Any]:
    parent = ("Country", "England") if kind == "Local Authority" else ("Continent", "Europe")
    return _side(number, geographic_area_type=kind, geographic_area_description=place,
                 parent_geographic_area_type=parent[0], parent_geographic_area_description=parent[1],
                 welsh_ind=welsh)


def _txt(rows: list[dict[str, Any]], fields: list[str]) -> bytes:
    """The Commission's text form: tab-separated, a header, no quoting, CRLF line ends."""
    def cell(v: Any) -> str:
        return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    lines = ["\t".join(fields), *["\t".join(cell(r[f]) for f in fields) for r in rows]]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def write_register(root: Path, form: str, tables: dict[str, list[dict[str, Any]]]) -> dict[str, Path]:
    """The three zips under ``root/<form>/``, as the Commission names them."""
    fields = {"charity": CHARITY_FIELDS, "charity_classification": CLASS_FIELDS,
              "charity_area_of_operation": AOO_FIELDS}
    out = {}
    for table, rows in tables.items():
        path = root / form / f"publicextract.{table}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = (json.dumps(rows, ensure_ascii=False).encode("utf-8-sig") if form == "json"
                else _txt(rows, fields[table]))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"publicextract.{table}.{form}", body)
        out[table] = path
    return out


def _area_postcodes(s: Settings) -> set[str]:
    cur = StoreReader(s.store_path).cursor()
    return {r[0] for r in cur.execute(
        "SELECT postcode FROM postcodes WHERE lad_code = ? OR lsoa21_code IN "
        "(SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?)", [TRAFFORD, TRAFFORD]).fetchall()}


class Scenario:
    """Real register rows, with a removed and a linked charity, codes and areas of operation."""

    def __init__(self, mirror: Path, store: Settings) -> None:
        with open(mirror / "trafford/services/charities_operating_in_trafford.csv", encoding="utf-8-sig",
                  newline="") as h:
            lab = list(csv.DictReader(h))
        self.rows = [_published(r) for r in lab]
        by_name = {r["charity_name"]: r for r in self.rows}
        self.local = _area_postcodes(store)
        num = lambda name: by_name[name]["registered_charity_number"]  # noqa: E731
        self.removed = self.rows[0]
        self.removed.update(charity_registration_status="Removed", date_of_removal="2022-03-31T00:00:00")
        self.linked = dict(by_name["AGE UK TRAFFORD"], linked_charity_number=1)
        self.rows.append(self.linked)
        away = [r for r in self.rows[1:-1]
                if geocode.normalise_postcode(r["charity_contact_postcode"]) not in self.local]
        unplaceable = [r for r in away if cr.why_not_placed(r["charity_contact_postcode"])]
        ordinary = [r for r in away if r not in unplaceable]
        self.named = ordinary[:5] + unplaceable       # say they operate in Trafford
        self.national = ordinary[5:10]                # "throughout England" only
        self.county = ordinary[10:12]                 # Lancashire only
        # a head office at a postcode newer than the directory (Shard End Library's, B34 7AG)
        ordinary[2]["charity_contact_postcode"] = "B34 7AG"
        aoo = [_aoo(r["registered_charity_number"], "Local Authority", "Trafford") for r in self.named]
        aoo += [_aoo(r["registered_charity_number"], "Region", "Throughout England") for r in self.national]
        aoo += [_aoo(r["registered_charity_number"], "Local Authority", "Lancashire") for r in self.county]
        aoo += [_aoo(ordinary[12]["registered_charity_number"], "Local Authority", "Trafford Park"),
                _aoo(ordinary[12]["registered_charity_number"], "Local Authority", "Cardiff", welsh=True),
                dict(_aoo(self.linked["registered_charity_number"], "Local Authority", "Trafford"),
                     linked_charity_number=1)]
        self.codes = {
            num("HALE OLDER PEOPLE'S WELFARE COMMITTEE"): [105, 207],  # poverty, not "older"
            num("STRETFORD FOODBANK"): [105, 306],                     # poverty narrowed to food
            num("TRAFFORD SOUTH FOODBANK"): [101, 207],                # no code names a category
            num("AGE UK TRAFFORD"): [103, 202, 306, 999],              # older people over health
        }
        cls = [_cls(n, c) for n, codes in self.codes.items() for c in codes]
        cls.append(dict(_cls(self.linked["registered_charity_number"], 107), linked_charity_number=1))
        self.tables = {"charity": self.rows, "charity_classification": cls, "charity_area_of_operation": aoo}

    def expected(self) -> set[str]:
        """Registered main charities with a Trafford head office or naming Trafford."""
        kept = {str(r["registered_charity_number"]) for r in self.rows[1:-1]
                if geocode.normalise_postcode(r["charity_contact_postcode"]) in self.local}
        return kept | {str(r["registered_charity_number"]) for r in self.named}


@pytest.fixture
def scenario(mirror: Path, trafford_store: Settings) -> Scenario:
    return Scenario(mirror, trafford_store)


def _loaded(s: Settings) -> dict[str, tuple[Any, ...]]:
    cur = StoreReader(s.store_path).cursor()
    return {r[0]: r[1:] for r in cur.execute(
        "SELECT charity_number, name, category, head_office, geocode_method, lsoa21_code, geocode_note "
        "FROM services_source WHERE source_dataset = 'charities_register'").fetchall()}


def test_json_extract_from_the_mirror(store_copy: Settings, tmp_path: Path, scenario: Scenario) -> None:
    zips = write_register(tmp_path / "m" / "england/charities", "json", scenario.tables)
    s = make_settings(store_copy.data_dir, tmp_path / "m")
    report = ingest.run(["charities_register"], s, area="Trafford")
    got = _loaded(s)
    assert set(got) == scenario.expected() and len(got) > 250
    # removed and linked charities are left out, and counted
    assert str(scenario.removed["registered_charity_number"]) not in got
    assert any("1 row(s) left out: a linked charity" in w for w in report.warnings), report.warnings
    assert any("1 row(s) left out: not registered (status removed" in w for w in report.warnings)
    # operates here: named Trafford though based elsewhere; "throughout England" and Lancashire are not mapped
    assert {str(r["registered_charity_number"]) for r in scenario.named} <= set(got)
    assert not {str(r["registered_charity_number"]) for r in scenario.national + scenario.county} & set(got)
    assert any("1 local authority row(s) name a place matched to no English authority" in w
               and "Trafford Park (1)" in w for w in report.warnings)
    # categories from the register's own codes, keywords only where no code names one
    cat = {n: got[str(n)][1] for n in scenario.codes}
    names = {r["registered_charity_number"]: r["charity_name"] for r in scenario.rows}
    by = {names[n]: c for n, c in cat.items()}
    south = next(r for r in scenario.rows if r["charity_name"] == "TRAFFORD SOUTH FOODBANK")
    assert by == {"HALE OLDER PEOPLE'S WELFARE COMMITTEE": "money_advice", "STRETFORD FOODBANK": "food",
                  "AGE UK TRAFFORD": "older_people",  # the codes win over the words "older", "health"
                  "TRAFFORD SOUTH FOODBANK": shared.categorise(south["charity_name"], south["charity_activities"])}
    assert "classification 105" in got[str(next(n for n in cat if names[n] == "STRETFORD FOODBANK"))][5]
    assert "none of its classification codes names one" in got[
        str(next(n for n in cat if names[n] == "TRAFFORD SOUTH FOODBANK"))][5]
    assert any("codes not in the register's published list" in w and "999" in w for w in report.warnings)
    assert {g[2] for g in got.values()} == {True} and all("head office" in g[5] for g in got.values())
    assert {g[1] for g in got.values()} <= {c.id for c in taxonomy.CATEGORIES}
    # what could not be placed, and why, counted
    known = {r[0] for r in StoreReader(s.store_path).cursor().execute("SELECT postcode FROM postcodes").fetchall()}
    kept = [r for r in scenario.rows[1:-1] if str(r["registered_charity_number"]) in got]
    reasons = [cr.why_not_placed(r["charity_contact_postcode"]) or
               (cr.NOT_FOUND if geocode.normalise_postcode(r["charity_contact_postcode"]) not in known else None)
               for r in kept]
    for reason in (cr.NO_POSTCODE, cr.OUTSIDE, cr.NOT_FOUND):
        n = reasons.count(reason)
        assert n and any(w.endswith(f"{n:,} charit{'y' if n == 1 else 'ies'} could not be placed: {reason}")
                         for w in report.warnings), (reason, n, report.warnings)
    assert sum(1 for g in got.values() if g[3] == "none") == sum(1 for r in reasons if r)
    # provenance: licence, attribution and the checksum of each file as read
    cur = StoreReader(s.store_path).cursor()
    prov = {r[0]: r[1:] for r in cur.execute(
        "SELECT dataset_id, licence, attribution, sha256, url FROM provenance WHERE dataset_id IN "
        "('charities_register', 'charities_classification', 'charities_area_of_operation')").fetchall()}
    for dataset_id, table in (("charities_register", "charity"), ("charities_classification",
                              "charity_classification"), ("charities_area_of_operation", "charity_area_of_operation")):
        licence, attribution, sha, url = prov[dataset_id]
        assert licence == "Open Government Licence v3.0" and "Charity Commission" in attribution
        assert sha == hashlib.sha256(zips[table].read_bytes()).hexdigest()
        assert url == f"https://ccewuksprdoneregsadata1.blob.core.windows.net/data/json/publicextract.{table}.zip"
    # where charities operate: Trafford itself, and England-wide ones counted but not mapped
    con = cur
    counts = {c: (local, wider) for c, local, wider in coverage.charities_operating(con, [TRAFFORD])}
    assert sum(w for _, w in counts.values()) == len(scenario.national)
    assert sum(loc for loc, _ in counts.values()) == len(scenario.named)
    assert "charities_register" in coverage.covering_sources(con, "food", TRAFFORD)
    assert "charities_register" not in coverage.covering_sources(con, "food", "E06000052")  # Cornwall
    # and the gaps command says it in words
    worded = next(c for c, (loc, _) in counts.items() if loc)
    env = {"NEEDSMAP_DATA_DIR": str(s.data_dir), "NEEDSMAP_STORE": str(s.store_path),
           "NEEDSMAP_USER_STORE": str(tmp_path / "u.duckdb"), "NEEDSMAP_MIRROR": None, "NEEDSMAP_CACHE": None}
    result = CliRunner().invoke(main, ["gaps", "--area", "Trafford", "--category", worded, "--no-resident-needs",
                                       "--out", str(tmp_path / "g.csv")], env=env, catch_exceptions=False)
    local, wider = counts[worded]
    assert result.exit_code == 0, result.output
    assert (f"{local:,} {taxonomy.label(worded).lower()} charit" in result.output
            and f"work in Trafford (the register's area of operation), wherever their head office is; "
                f"{wider:,} more work throughout the region or England" in result.output), result.output
    # a bad file afterwards is refused, naming file and row, and changes nothing stored
    _refuses_bad_files_and_changes_nothing(s, tmp_path / "m" / "england/charities", scenario)


def _refuses_bad_files_and_changes_nothing(s: Settings, root: Path, scenario: Scenario) -> None:
    """A bad row in the JSON, then a short line in the text form: each refused, naming the file
    and row, with the store as it was."""
    before = _loaded(s), StoreReader(s.store_path).cursor().execute(
        "SELECT dataset_id, sha256 FROM provenance ORDER BY 1").fetchall()
    scenario.rows[3]["registered_charity_number"] = "12A"
    write_register(root, "json", {"charity": scenario.rows})
    with pytest.raises(ValidationError, match=r"publicextract\.charity\.json\) row 4: "
                                              r"registered_charity_number is '12A', not a number"):
        ingest.run(["charities_register"], s, area="Trafford")
    # the text form, one row short of fields
    (root / "json/publicextract.charity.zip").unlink()
    scenario.rows[3]["registered_charity_number"] = 12
    write_register(root, "txt", {"charity": scenario.rows})
    path = root / "txt/publicextract.charity.zip"
    with zipfile.ZipFile(path) as zf:
        text = zf.read("publicextract.charity.txt").decode("utf-8-sig")
    lines = text.split("\r\n")
    lines[-2] = "\t".join(lines[-2].split("\t")[:5])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("publicextract.charity.txt", "\r\n".join(lines).encode("utf-8-sig"))
    with pytest.raises(ValidationError, match=rf"publicextract\.charity\.txt\) line {len(lines) - 1}: 5 "
                                              rf"tab-separated fields, the header has {len(CHARITY_FIELDS)}"):
        ingest.run(["charities_register"], s, area="Trafford")
    after = _loaded(s), StoreReader(s.store_path).cursor().execute(
        "SELECT dataset_id, sha256 FROM provenance ORDER BY 1").fetchall()
    assert after == before and before[0]


def test_text_extract_over_http_at_the_publishers_paths(store_copy: Settings, tmp_path: Path,
                                                         scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tab-separated form, downloaded by the real HTTP code from /data/txt/ as published; a
    quote in a value is just a character, and a value holding a line break is one value."""
    quoted = scenario.rows[1]
    activities = quoted["charity_activities"]
    assert '"' in activities and quoted in scenario.named  # Cheshire Wildlife Trust quotes its vision
    broken = scenario.named[1]
    broken["charity_activities"] = f"{broken['charity_activities'] or ''}\r\nSecond paragraph."
    write_register(tmp_path / "www" / "data", "txt", scenario.tables)
    with loopback_server(tmp_path / "www") as server:
        for d in ("charities_register", "charities_classification", "charities_area_of_operation"):
            ds = registry.text_form(registry.get(d))
            monkeypatch.setitem(registry._BY_ID, d, replace(
                registry.get(d), url=ds.url.replace(registry.CCEW_EXTRACT, f"{server.url}/data")))
        s = make_settings(store_copy.data_dir, None)
        ingest.run(["charities_register"], s, area="Trafford")
    assert any(h.startswith("/data/txt/publicextract.charity_area_of_operation.zip") for h in server.hits)
    got = _loaded(s)
    assert set(got) == scenario.expected()
    cur = StoreReader(s.store_path).cursor()
    desc = dict(cur.execute("SELECT charity_number, description FROM services_source "
                            "WHERE source_dataset = 'charities_register'").fetchall())
    assert desc[str(quoted["registered_charity_number"])] == " ".join(activities.split())
    assert desc[str(broken["registered_charity_number"])].endswith("Second paragraph.")


def test_a_mirror_without_the_register_skips_it(store_copy: Settings, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    s = make_settings(store_copy.data_dir, tmp_path / "m")
    report = ingest.run(["charities_register"], s, area="Trafford")
    assert [(r.dataset_id, r.rows) for r in report.results] == [("charities_register", 0)]
    assert any(w.startswith("charities_register: skipped, nothing loaded or changed") and
               "england/charities/json/publicextract.charity.zip" in w and
               "england/charities/txt/publicextract.charity.zip" in w for w in report.warnings)
    assert not _loaded(s)


def test_area_names_match_the_authorities_of_the_lookup(mirror: Path) -> None:
    with open(mirror / "england/lookups/lad24_region24_england.csv", encoding="utf-8-sig", newline="") as h:
        lads = {r["ltla24_code"]: r["ltla24_name"] for r in csv.DictReader(h)}
    m = AreaMatcher(lads)
    for described, code in (("Manchester City", "E08000003"), ("Kingston Upon Hull City", "E06000010"),
                            ("Durham", "E06000047"), ("City Of Westminster", "E09000033"),
                            ("St Helens", "E08000013"), ("Cheshire West & Chester", "E06000050"),
                            ("Bristol City", "E06000023"), ("Herefordshire", "E06000019"),
                            ("City Of London", "E09000001"), ("Trafford", TRAFFORD)):
        assert m.match("Local Authority", described).codes == (code,), described
    lancashire = m.match("Local Authority", "Lancashire")
    assert lancashire.kind == "authority" and len(lancashire.codes) == 12
    assert m.match("Region", "Throughout England And Wales").kind == "england"
    assert m.match("Region", "Throughout London").codes == ("E12000007",)
    assert m.match("Local Authority", "Cardiff", welsh=True).kind == "elsewhere"
    assert m.match("Country", "Scotland").kind == "elsewhere"
    assert m.match("Local Authority", "Trafford Park").kind == "unmatched"
    keys = {area_key(n) for n in lads.values()}
    districts = [d for ds in COUNTIES.values() for d in ds]
    assert [d for d in districts if area_key(d) not in keys] == []
    assert len(districts) == len(set(districts)) == 164 + 4  # 2024's districts, and Cumbria's and Northamptonshire's


def test_classification_table() -> None:
    assert set(cc.PRECEDENCE) == {c.code for c in cc.CODES if c.category}
    assert [c.code for c in cc.CODES] == [*range(101, 118), *range(201, 208), *range(301, 311)]
    assert {c.kind for c in cc.CODES if c.code // 100 == 1} == {"What"}
    assert {c.kind for c in cc.CODES if c.code // 100 == 3} == {"How"}
    assert all(c.category in taxonomy.BY_ID and set(c.refine) <= set(taxonomy.BY_ID) for c in cc.CODES if c.category)
    assert cc.category_of({101, 207, 302}) is None
    assert cc.category_of({103, 202}).category == "older_people"  # type: ignore[union-attr]


def test_unquoted_tab_text(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes('a\tb\tc\r\n1\t"x\t3\r\n2\tline one\r\nline two\t4\r\n'.encode("utf-8-sig"))
    rows = files.read_tab_text(p, "t.txt")
    assert [(r["a"], r["b"], r["c"], r["_row"]) for r in rows] == [
        ("1", '"x', "3", 2), ("2", "line one\nline two", "4", 3)]
    p.write_text("a\tb\n1\t2\t3\n")
    with pytest.raises(ValidationError, match=re.escape("t.txt line 2: 3 tab-separated fields, the header has 2")):
        files.read_tab_text(p, "t.txt")


def test_a_table_without_the_registers_fields_is_refused(tmp_path: Path) -> None:
    """The classification zip where the charity table should be, and a web page saved as a zip."""
    from datetime import datetime, timezone

    from needsmap.sources._http import Fetched

    zips = write_register(tmp_path, "json", {"charity_classification": [_cls(1, 105)]})
    wrong = tmp_path / "publicextract.charity.zip"
    zips["charity_classification"].rename(wrong)
    fetched = Fetched(wrong, str(wrong), "", 0, datetime.now(timezone.utc))
    with pytest.raises(ValidationError, match=r"charities_register \(publicextract\.charity\.zip, "
                                              r"publicextract\.charity_classification\.json\) row 1: no field "
                                              r"charity_name, charity_registration_status, charity_contact_postcode"):
        cr._read(registry.get("charities_register"), fetched)
    wrong.write_text("<!DOCTYPE html><html>Service unavailable</html>")
    with pytest.raises(ValidationError, match=r"publicextract\.charity\.zip\): is not a zip file"):
        cr._read(registry.get("charities_register"), fetched)


def test_for_all_of_england_every_registered_main_charity_and_place_is_kept(
        trafford_store: Settings, scenario: Scenario) -> None:
    """No area: every registered main charity is a service, and every place it names is kept
    (Lancashire's districts as well as Trafford and England)."""
    from needsmap.ingest.context import LoadContext
    from needsmap.sources._http import Fetched
    from needsmap.store import db

    con = db.connect(trafford_store.store_path, read_only=True)
    try:
        ctx = LoadContext(con=con, settings=trafford_store)
        tables = {}
        for d, t in (("charities_register", "charity"), ("charities_classification", "charity_classification"),
                     ("charities_area_of_operation", "charity_area_of_operation")):
            rows = [dict(r, _row=i + 1) for i, r in enumerate(scenario.tables[t])]
            tables[d] = cr.Table(registry.get(d), Fetched(Path(t), t, "", 0, None), d, rows)  # type: ignore[arg-type]
        records, operation, _, _ = cr.build(ctx, tables["charities_register"], tables["charities_classification"],
                                            tables["charities_area_of_operation"])
    finally:
        con.close()
    registered = {str(r["registered_charity_number"]) for r in scenario.rows[1:-1]}
    assert {r["record_id"] for r in records} == registered
    kinds = {(o["charity_number"], o["kind"]) for o in operation}
    assert {(str(r["registered_charity_number"]), "england") for r in scenario.national} <= kinds
    lancs = [o for o in operation if o["described_as"] == "Lancashire"]
    assert len(lancs) == 12 * len(scenario.county) and {o["kind"] for o in lancs} == {"authority"}
