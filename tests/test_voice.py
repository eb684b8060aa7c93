"""Residents' voice beyond the core rules: postcodes, the map layer and exports as each viewer
sees them, concurrent submissions, bulk entry from a table, accounts and the `users` command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from dashboard import mapview
from needsmap.analysis import maps
from needsmap.cli import main
from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.store import StoreReader
from needsmap.store.users import USER_MIGRATIONS, UserStore, open_user_store
from needsmap.voice import accounts, blurred_needs, layers, needs, privacy, workshop
from needsmap.voice.accounts import PermissionDenied, User
from needsmap.voice.locate import locate_point, locate_postcode

from conftest import make_settings, trafford_points

TRAFFORD = "E08000009"
ROOT = Path(__file__).resolve().parent.parent
MODERATOR = User("mod", "moderator", "Mo")
COMMISSIONER = User("com", "commissioner", "Cam")
GROUP = User("grp", "community_group", "Youth", group_name="Stretford Youth Forum")


@pytest.fixture
def cur(trafford_store: Settings):
    return StoreReader(trafford_store.store_path).cursor()


def test_postcodes_place_a_report_in_its_lsoa_or_are_refused_by_name(cur, trafford_store) -> None:
    postcode, lon, lat, lsoa = trafford_points(trafford_store, 1)[0]
    found = locate_postcode(cur, postcode.lower().replace(" ", ""))
    assert (found.postcode, found.lsoa21_code, found.lad_code) == (postcode, lsoa, TRAFFORD)
    assert (found.lon, found.lat) == (lon, lat)
    for text, words in (("M1 1AE", "outside the area this map covers (Trafford)"),  # Manchester
                        ("ZZ9 9ZZ", "could not find the postcode ZZ9 9ZZ"),
                        ("hello there", "is not a postcode: type one like M32 9AF"),
                        ("", "type the postcode of the place")):
        with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
            locate_postcode(cur, text)


def _approved(store: UserStore, location: needs.Location, category: str, n: int,
              contact: str | None = None) -> list[int]:
    ids = []
    for i in range(n):
        ids.append(needs.submit(store, needs.NeedReport(category, f"{category} need {i}", location,
                                                        contact=contact), session_id=f"s{i}"))
        needs.moderate(store, MODERATOR, "need", ids[-1], "approve")
    return ids


def test_map_layer_hides_small_counts_and_the_exact_point_from_the_public(
        user_store: UserStore, cur, trafford_store) -> None:
    postcode, lon, lat, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    _approved(user_store, place, "food", 12, contact="jo@example.org")
    _approved(user_store, place, "youth", 3)
    pending = needs.submit(user_store, needs.NeedReport("housing", "not yet checked", place),
                           session_id="p")
    needs.add_support(user_store, 1, session_id="neighbour")
    points = maps.area_points(cur, "lsoa21", TRAFFORD)
    fixed = points.set_index("code").loc[lsoa]

    wards = blurred_needs.lsoa_wards(cur, TRAFFORD)
    public = layers.needs_layer(user_store, points, TRAFFORD, accounts.PUBLIC, 10, wards)
    [feature] = public["features"]
    props = feature["properties"]
    assert feature["geometry"]["coordinates"] == [fixed["lon"], fixed["lat"]] != [lon, lat]
    # The map shows exactly what reports and downloads publish for this area.
    published = blurred_needs.protect(needs.approved_counts(user_store, TRAFFORD), wards, 10,
                                      TRAFFORD).by_lsoa().loc[lsoa]
    cells = {c["label"]: c["reports"] for c in props["categories"]}
    assert cells["Young people"] == layers.HIDDEN  # 3 < 10
    assert cells["Food"] == layers._published(published["food"])
    assert props["reports"] == layers._published(published["all_categories"])
    # 12 food + 3 youth = 15: with the food count shown, the total must not be.
    assert not (cells["Food"] == "12" and props["reports"] == "15")
    assert props["badge"] == ("few" if props["reports"] == layers.HIDDEN else props["reports"])
    assert props["categories"][0]["supporters"] == "fewer than 10"
    assert "needs" not in props and "total" not in props
    text = json.dumps(public)
    for secret in (str(lon), str(lat), postcode, "jo@example.org", "not yet checked"):
        assert secret not in text

    exact = layers.needs_layer(user_store, points, TRAFFORD, COMMISSIONER, 10, wards)
    props = exact["features"][0]["properties"]
    assert props["reports"] == "15" and props["total"] == 15 and props["supporters"] == "1"
    assert len(props["needs"]) == 15 and pending not in [n["id"] for n in props["needs"]]
    text = json.dumps(exact)
    for secret in (str(lon), str(lat), postcode, "jo@example.org"):
        assert secret not in text

    frame = layers.counts_frame(public)
    assert list(frame["reports"]) == [cells["Food"], layers.HIDDEN]


def test_secondary_suppression() -> None:
    assert privacy.suppress_breakdown({"a": 3, "b": 4}, 10) == (
        "fewer than 10", {"a": "fewer than 10", "b": "fewer than 10"})
    assert privacy.suppress_breakdown({"a": 6, "b": 7}, 10)[0] == "13"  # two hidden: only the sum
    assert privacy.suppress_breakdown({"a": 30, "b": 1}, 10)[0] == "more than 30"
    assert privacy.suppress_breakdown({"a": 30, "b": 11}, 10) == ("41", {"a": "30", "b": "11"})


def test_export_has_approved_detail_but_no_places_or_contacts(user_store: UserStore, cur,
                                                              trafford_store) -> None:
    postcode, lon, lat, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    _approved(user_store, place, "money_advice", 1, contact="07700 900123")
    needs.submit(user_store, needs.NeedReport("food", "=HYPERLINK(\"http://x\")", place),
                 session_id="f")
    needs.moderate(user_store, MODERATOR, "need", 2, "approve")
    names = dict(maps.area_points(cur, "lsoa21", TRAFFORD)[["code", "name"]].itertuples(
        index=False, name=None))
    with pytest.raises(PermissionDenied):
        layers.needs_export(user_store, MODERATOR, names)
    frame = layers.needs_export(user_store, COMMISSIONER, names)
    assert set(frame["description"]) == {"money_advice need 0", "=HYPERLINK(\"http://x\")"}
    assert not {"lon", "lat", "postcode", "contact", "session_hash"} & set(frame.columns)
    data = layers.to_csv(frame).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert {r["area"] for r in rows} == {names[lsoa]}
    # A spreadsheet would run the formula; the download makes it plain text.
    assert "'=HYPERLINK(\"http://x\")" in {r["description"] for r in rows}
    for secret in (str(lon), str(lat), postcode, "07700 900123"):
        assert secret not in data


def test_fifty_concurrent_reports_from_separate_sessions_are_all_kept(
        user_store: UserStore, trafford_store) -> None:
    points = trafford_points(trafford_store, 50)
    limiter = needs.RateLimiter(limit=1, window=600)
    start = threading.Barrier(50)

    def resident(i: int) -> int:
        postcode, lon, lat, lsoa = points[i]
        report = needs.NeedReport("transport", f"the bus stopped running, resident {i}",
                                  needs.Location(lon, lat, lsoa, TRAFFORD, postcode))
        start.wait()  # all 50 at once
        assert limiter.allow(f"session-{i}")
        return needs.submit(user_store, report, session_id=f"session-{i}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = list(pool.map(resident, range(50)))  # re-raises any submission's error
    assert len(set(ids)) == 50
    rows = user_store.read().execute(
        "SELECT count(*), count(DISTINCT session_hash), count(DISTINCT description) FROM needs"
    ).fetchone()
    assert rows == (50, 50, 50)
    assert not limiter.allow("session-7")  # the same session again is held back


def test_table_entry_skips_blank_rows_and_names_bad_ones(user_store: UserStore, cur,
                                                         trafford_store) -> None:
    postcode = trafford_points(trafford_store, 1)[0][0]

    def locate(text: str) -> needs.Location:
        return locate_postcode(cur, text)

    blank = {"category": None, "description": "", "people_affected": float("nan"),
             "age_groups": [], "postcode": ""}
    good = {"category": "loneliness", "description": "Nobody visits the flats", "people_affected": 8.0,
            "age_groups": ["older people (65+)"], "postcode": postcode}
    outside = dict(good, postcode="M1 1AE")
    parsed = workshop.parse_table([good, blank, outside], locate_postcode=locate, consent=True,
                               source_note="Drop-in, 3 March")
    assert len(parsed.reports) == 1 and parsed.reports[0].age_groups == ("older people (65+)",)
    assert workshop.filled_rows([good, blank, outside]) == [1, 3]   # the rows parse_table reads
    assert parsed.problems == ["table row 3, column 'postcode': M1 1AE is outside the area this "
                               "map covers (Trafford). Give a postcode inside it"]
    assert workshop.parse_table([good], locate_postcode=locate, consent=False).problems == [
        "confirm that everyone listed agreed to their need being recorded"]
    assert workshop.parse_table([blank], locate_postcode=locate, consent=True).problems == [
        "nothing to save: type at least one need"]
    with pytest.raises(PermissionDenied):
        workshop.submit_many(user_store, parsed.reports, facilitator=accounts.PUBLIC, session_id="w")
    [ref] = workshop.submit_many(user_store, parsed.reports, facilitator=GROUP, session_id="w")
    row = user_store.read().execute(
        "SELECT channel, consent_recorded, entered_by, source_note, status FROM needs WHERE id = ?",
        [ref]).fetchone()
    assert row == ("workshop", True, "grp", "Drop-in, 3 March", "pending")


def test_csv_problems_leave_the_store_as_it_was(user_store: UserStore, cur, trafford_store) -> None:
    postcode = trafford_points(trafford_store, 1)[0][0]
    [kept] = workshop.submit_many(user_store, workshop.parse_csv(
        workshop.csv_template().replace("M32 9AF", postcode).encode(), filename="ok.csv",
        locate_postcode=lambda t: locate_postcode(cur, t)).reports, facilitator=GROUP,
        session_id="w")
    for data, words in ((b"", "missing column(s) category"),
                        (workshop.csv_template().encode("utf-16"), "not UTF-8"),
                        (b"x" * (workshop.MAX_CSV_BYTES + 1), "the limit is 1,000,000"),
                        (",".join(workshop.CSV_TEMPLATE_COLUMNS).encode() + b"\n", "has no rows")):
        parsed = workshop.parse_csv(data, filename="bad.csv", locate_postcode=lambda t: None)
        assert parsed.reports == [] and words in parsed.problems[0]
    assert user_store.read().execute("SELECT list(id) FROM needs").fetchone()[0] == [kept]


def test_public_lists_show_only_approved_items(user_store: UserStore, cur, trafford_store) -> None:
    postcode, _, _, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    a, b = (needs.submit(user_store, needs.NeedReport("food", t, place), session_id=t)
            for t in ("approved one", "rejected one"))
    needs.moderate(user_store, MODERATOR, "need", a, "approve")
    needs.moderate(user_store, MODERATOR, "need", b, "reject", reason="a test")
    note = needs.annotate(user_store, GROUP, area_level="lsoa21", area_code=lsoa, body="a note",
                          evidence_url="https://example.org/evidence(1)")
    assert needs.approved_annotations(user_store, [lsoa]) == []
    needs.moderate(user_store, MODERATOR, "annotation", note, "approve")
    [shown] = needs.approved_needs(user_store, [lsoa])
    assert shown["description"] == "approved one" and "contact" not in shown and "lon" not in shown
    layer = layers.notes_geojson(user_store, maps.area_points(cur, "lsoa21", TRAFFORD),
                                maps.area_points(cur, "ward", TRAFFORD))
    [feature] = layer["features"]
    assert feature["properties"]["notes"][0]["evidence_url"] == "https://example.org/evidence%281%29"
    log = needs.moderation_log(user_store, MODERATOR)
    assert [(e["item_type"], e["action"]) for e in log] == [
        ("annotation", "approve"), ("need", "reject"), ("need", "approve")]
    with pytest.raises(PermissionDenied):
        needs.moderation_log(user_store, COMMISSIONER)


def test_escaping_for_folium_javascript_strings_and_links() -> None:
    assert privacy.escape_html("`${alert(1)}` \\x3cimg\\x3e") == (
        "&#96;&#36;{alert(1)}&#96; &#92;x3cimg&#92;x3e")
    assert privacy.safe_url("javascript:alert(1)") is None
    assert privacy.safe_url('https://x.org/"><script>') == "https://x.org/%22%3E%3Cscript%3E"
    assert privacy.csv_safe("+1") == "'+1" and privacy.csv_safe(5) == 5


BIDI_LINK = "https://example.org/files/\u202egpj.exe"  # reads "exe.jpg" wherever rendered


def test_hidden_characters_are_shown_wherever_user_text_is() -> None:
    """Bidi overrides and other invisible characters can make text read differently from what
    it says; every renderer shows them as a visible code instead."""
    shown = "https://example.org/files/[U+202E]gpj.exe"
    assert privacy.visible_text(BIDI_LINK) == shown
    assert privacy.visible_text("a\u200bb\u2066c\u2069\x00d\ufeff\u00ade") == (
        "a[U+200B]b[U+2066]c[U+2069][U+0000]d[U+FEFF][U+00AD]e")
    # What writing and emoji need stays: line breaks, tabs, joiners, England's flag.
    kept = "two\nlines\tand \U0001F468\u200d\U0001F469 \u0645\u200c\u06cc \U0001F3F4" \
           "\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
    assert privacy.visible_text(kept) == kept
    assert privacy.visible_text("\U000E0067 loose tag") == "[U+E0067] loose tag"
    assert "&#91;U&#43;202E&#93;gpj" in privacy.escape_markdown(BIDI_LINK)
    assert "[U+202E]gpj" in privacy.escape_html(BIDI_LINK)
    assert privacy.safe_url(BIDI_LINK) == "https://example.org/files/%E2%80%AEgpj.exe"
    popup = mapview.notes_popup({"name": "X", "notes": [
        {"body": "see \u202egpj.exe", "group": "G\u202e", "noted_on": "1 May 2026",
         "evidence_url": privacy.safe_url(BIDI_LINK)}]})
    assert "\u202e" not in popup and "see [U+202E]gpj.exe" in popup
    assert 'href="https://example.org/files/%E2%80%AEgpj.exe"' in popup
    table = privacy.visible_cells(pd.DataFrame({"text": [BIDI_LINK, None], "n": [1, 2]}))
    assert table["text"][0] == "https://example.org/files/[U+202E]gpj.exe" and pd.isna(table["text"][1])


def test_accounts_roles_are_read_afresh_and_single_sign_on_has_no_password(
        user_store: UserStore) -> None:
    accounts.create_account(user_store, "ann@council.example", None, "commissioner")
    assert accounts.authenticate(user_store, "ann@council.example", accounts.NO_PASSWORD) is None
    assert accounts.user_for_email(user_store, "ANN@council.example").role == "commissioner"
    accounts.create_account(user_store, "mod", "long enough pass", "moderator")
    assert accounts.account(user_store, "mod").can("moderate")
    accounts.create_account(user_store, "mod", "long enough pass", "community_group")
    assert not accounts.account(user_store, "mod").can("moderate")
    assert accounts.remove_account(user_store, "mod") and accounts.account(user_store, "mod") is None
    assert [(u, has_pw) for u, _, _, _, has_pw in accounts.list_accounts(user_store)] == [
        ("ann@council.example", False)]


def test_users_command_bootstraps_a_moderator(tmp_path: Path, mirror: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "mod", "--role", "moderator", "--display-name",
                                 "Mo"], env={"NEEDSMAP_NEW_PASSWORD": "a long password"})
    assert added.exit_code == 0, added.output
    assert "mod: moderator, signs in with a password." in added.output
    prompted = runner.invoke(main, ["users", "add", "grp", "--role", "community_group", "--group",
                                    "Stretford Youth Forum"], input="short\nshort\n")
    assert prompted.exit_code == 1 and "at least 10 characters" in prompted.output
    listed = runner.invoke(main, ["users", "list"])
    assert "mod" in listed.output and "grp" not in listed.output
    store = open_user_store(make_settings(tmp_path, mirror))
    try:
        assert accounts.authenticate(store, "mod", "a long password").role == "moderator"
        # Another process (the running app) holds the file: a clear message, not a traceback.
        held = subprocess.run([sys.executable, "-m", "needsmap.cli", "users", "list"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert held.returncode == 1 and "the dashboard is probably running" in held.stderr
    finally:
        store.close()
    assert runner.invoke(main, ["users", "remove", "nobody"]).exit_code == 1


def test_user_store_from_before_step_3_is_upgraded(tmp_path: Path) -> None:
    old = UserStore(tmp_path / "user.duckdb", USER_MIGRATIONS[:2])
    old.write(lambda con: con.execute(
        "INSERT INTO needs (created_at, category, description, lsoa21_code) "
        "VALUES (now(), 'food', 'kept', 'E01006074')"))
    old.close()
    new = UserStore(tmp_path / "user.duckdb")
    try:
        assert new.read().execute("SELECT description, source_note FROM needs").fetchall() == [
            ("kept", None)]
    finally:
        new.close()


def test_a_point_outside_the_area_names_the_area(cur) -> None:
    with pytest.raises(ValidationError, match=r"outside the area this map covers \(Trafford\)"):
        locate_point(cur, -2.2426, 53.4808)  # Manchester city centre
