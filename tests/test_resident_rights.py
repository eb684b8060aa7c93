"""UK GDPR for residents' records, on both backends: the retention rule (module and
`needsmap residents retention`), and access to and erasure of one report by its reference
(`needsmap residents show|export|erase`), checked against the store, the map layer and every
download (CSV, GeoPackage, HTML report) and the moderation log."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.errors import ConfigError, ValidationError
from needsmap.publish import exports
from needsmap.store import StoreReader, areas
from needsmap.store.users import UserStore, open_user_store
from needsmap.voice import about_you, blurred_needs, layers, needs, resident_rights, retention
from needsmap.voice.accounts import PermissionDenied, User
from needsmap.voice.locate import locate_point

from conftest import make_settings, user_store_env

MODERATOR = User("mod", "moderator", "Mo")
COMMISSIONER = User("com", "commissioner", "Cam")
STRETFORD = (-2.3160, 53.4460)
RULE = retention.Rule(contact_days=365, rejected_days=90)


@pytest.fixture
def place(trafford_store: Settings) -> needs.Location:
    at = locate_point(StoreReader(trafford_store.store_path).cursor(), *STRETFORD)
    return needs.Location(at.lon, at.lat, at.lsoa21_code, at.lad_code, postcode="M32 0AA")


def send(store: UserStore, place: needs.Location, text: str, *, contact: str | None = None,
         days_ago: int = 0) -> int:
    ref = needs.submit(store, needs.NeedReport("food", text, place, contact=contact),
                       session_id=text)
    if days_ago:
        when = datetime.now() - timedelta(days=days_ago)
        store.write(lambda con: con.execute("UPDATE needs SET created_at = ? WHERE id = ?",
                                            [when, ref]))
    return ref


def reject(store: UserStore, ref: int, *, days_ago: int) -> None:
    needs.moderate(store, MODERATOR, "need", ref, "reject", reason="off-topic")
    when = datetime.now() - timedelta(days=days_ago)
    store.write(lambda con: con.execute(
        "UPDATE moderation_log SET acted_at = ? WHERE item_type = 'need' AND item_id = ?", [when, ref]))


def row(store: UserStore, ref: int) -> dict[str, object]:
    record = resident_rights.find(store, MODERATOR, ref)
    assert record is not None
    return record


def log_text(store: UserStore) -> str:
    return " ".join(str(v) for r in store.read().execute(
        "SELECT reason, before_text, after_text FROM moderation_log").fetchall() for v in r)


def test_retention_removes_old_contacts_and_old_rejected_text_and_logs_only_counts(
        user_store: UserStore, place: needs.Location) -> None:
    old = send(user_store, place, "Old report about the library", contact="old@example.org",
               days_ago=400)
    recent = send(user_store, place, "Recent report about buses", contact="new@example.org",
                  days_ago=30)
    old_rejected = send(user_store, place, "Rejected long ago, rude words", contact="r1@example.org",
                        days_ago=120)
    reject(user_store, old_rejected, days_ago=100)
    new_rejected = send(user_store, place, "Rejected last week", days_ago=120)
    reject(user_store, new_rejected, days_ago=7)  # sent long ago, but rejected only recently

    dry = retention.due(user_store, RULE)
    assert (dry.contacts, dry.rejected_texts, dry.applied) == (1, 1, False)
    assert row(user_store, old)["contact"] == "old@example.org"  # the dry run changed nothing

    done = retention.apply(user_store, RULE)
    assert done is not None and (done.contacts, done.rejected_texts) == (1, 1)
    gone = row(user_store, old)
    assert [gone[k] for k in ("contact", "postcode", "lon", "lat")] == [None] * 4
    assert gone["description"] == "Old report about the library"  # the text stays
    assert gone["lsoa21_code"] == place.lsoa21_code                # and the small area
    assert row(user_store, recent)["contact"] == "new@example.org"
    assert row(user_store, recent)["postcode"] == "M32 0AA"
    scrubbed = row(user_store, old_rejected)
    assert scrubbed["description"] == retention.REMOVED_TEXT and scrubbed["contact"] is None
    assert row(user_store, new_rejected)["description"] == "Rejected last week"

    text = log_text(user_store)
    assert "Rejected long ago" not in text and "old@example.org" not in text
    assert "Rejected last week" in text  # still within its period
    entry = user_store.read().execute(
        "SELECT moderator, reason, CAST(acted_at AS DATE) FROM moderation_log "
        "WHERE action = 'retention'").fetchall()
    assert len(entry) == 1
    who, reason, day = entry[0]
    assert who == retention.ACTOR and f"on {day.isoformat()}" in reason
    assert "from 1 report(s) sent more than 365 days ago" in reason
    assert "text of 1 report(s) rejected more than 90 days ago" in reason
    assert "NEEDSMAP_CONTACT_RETENTION_DAYS" in reason

    again = retention.apply(user_store, RULE)  # nothing more is due, and nothing more logged
    assert again is not None and (again.contacts, again.rejected_texts) == (0, 0)
    assert user_store.read().execute(
        "SELECT count(*) FROM moderation_log WHERE action = 'retention'").fetchone()[0] == 1


def test_the_daily_run_happens_once_a_day_across_processes(user_settings: Settings,
                                                          place: needs.Location) -> None:
    first, second = open_user_store(user_settings), None
    try:
        send(first, place, "old one", contact="a@example.org", days_ago=400)
        now = datetime.now().replace(microsecond=0)
        assert retention.apply(first, RULE, now=now, once_a_day=True).contacts == 1
        first.close()
        second = open_user_store(user_settings)  # as another app process would
        send(second, place, "older one", contact="b@example.org", days_ago=500)
        assert retention.apply(second, RULE, now=now, once_a_day=True) is None
        assert retention.apply(second, RULE, now=now + timedelta(days=1), once_a_day=True).contacts == 1
    finally:
        (second or first).close()


def test_a_retention_period_below_one_day_is_refused(settings: Settings) -> None:
    bad = make_settings(settings.data_dir, None, contact_retention_days=0)
    with pytest.raises(ConfigError, match="NEEDSMAP_CONTACT_RETENTION_DAYS must be at least 1"):
        retention.Rule.from_settings(bad)


def cli(settings: Settings, *args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env={**user_store_env(settings), **env},
                              catch_exceptions=False)


def test_retention_command_dry_run_counts_then_apply(user_settings: Settings,
                                                    place: needs.Location) -> None:
    store = open_user_store(user_settings)
    try:
        ref = send(store, place, "Dry run report", contact="dry@example.org", days_ago=40)
    finally:
        store.close()
    result = cli(user_settings, "residents", "retention", NEEDSMAP_CONTACT_RETENTION_DAYS="30")
    assert result.exit_code == 0, result.output
    assert "Would remove contact details, postcode and exact point from 1 report(s)" in result.output
    assert "kept 30 days" in result.output and "Nothing was changed" in result.output
    assert "dry@example.org" not in result.output
    result = cli(user_settings, "residents", "retention", "--apply",
                 NEEDSMAP_CONTACT_RETENTION_DAYS="30")
    assert "Removed contact details, postcode and exact point from 1 report(s)" in result.output
    store = open_user_store(user_settings)
    try:
        assert row(store, ref)["contact"] is None
    finally:
        store.close()


def test_references_are_read_as_residents_quote_them() -> None:
    assert resident_rights.parse_reference(" #42 ") == 42 == resident_rights.parse_reference(42)
    with pytest.raises(ValidationError, match="is not a report reference"):
        resident_rights.parse_reference("42; DROP TABLE needs")


def test_only_moderators_may_look_up_or_erase(user_store: UserStore, place: needs.Location) -> None:
    ref = send(user_store, place, "a report")
    for fn in (resident_rights.find, resident_rights.export, resident_rights.erase):
        with pytest.raises(PermissionDenied):
            fn(user_store, COMMISSIONER, ref)
    with pytest.raises(ValidationError, match="there is no report 999"):
        resident_rights.erase(user_store, MODERATOR, 999)


# Distinctive values, so that any trace of them can be found.
SECRET_TEXT = "Zebra crossing outside Quillfeather Court has gone"
SECRET_CONTACT = "quillfeather.resident@example.org"


def downloads(settings: Settings, store: UserStore, folder: Path) -> dict[str, str]:
    """The map layer and every download a commissioner can take for Trafford, as text."""
    con = StoreReader(settings.store_path).cursor()
    place = areas.resolve_area(con, "Trafford")
    written, _ = exports.make(con, store, place, settings, folder, ("html", "csv", "gpkg"))
    points = StoreReader(settings.store_path).cursor()
    from needsmap.analysis import maps

    lsoas = maps.area_points(points, "lsoa21", place.lad_code)
    layer = layers.needs_layer(store, lsoas, place.lad_code, COMMISSIONER, 10,
                               blurred_needs.lsoa_wards(points, place.lad_code))
    table = layers.needs_export(store, COMMISSIONER, dict(zip(lsoas["code"], lsoas["name"])))
    gpkg = sqlite3.connect(written["gpkg"])
    try:
        needs_in_gpkg = gpkg.execute("SELECT sum(needs_all) FROM resident_needs").fetchone()[0]
        tables = [t for (t,) in gpkg.execute("SELECT table_name FROM gpkg_contents")]
        gpkg_text = " ".join(str(v) for t in tables
                             for r in gpkg.execute(f'SELECT * FROM "{t}"') for v in r)
    finally:
        gpkg.close()
    return {"map": json.dumps(layer), "csv": written["csv"].read_text(),
            "needs csv": layers.to_csv(table).decode(), "html": written["html"].read_text(),
            "gpkg": gpkg_text, "gpkg needs": str(needs_in_gpkg)}


def test_export_then_erase_leaves_no_trace_in_store_map_downloads_or_log(
        user_settings: Settings, trafford_store: Settings, place: needs.Location,
        tmp_path: Path) -> None:
    # Trafford's reference store, this backend's user store, every count shown exactly.
    settings = replace(user_settings, store_path=trafford_store.store_path, suppress_below=1)
    store = open_user_store(settings)
    try:
        ref = send(store, place, SECRET_TEXT, contact=SECRET_CONTACT)
        other = send(store, place, "Another resident's report stays")
        for r in (ref, other):
            needs.moderate(store, MODERATOR, "need", r, "approve")
        needs.moderate(store, MODERATOR, "need", ref, "edit", new_text=SECRET_TEXT + " (edited)")
        needs.add_support(store, ref, session_id="neighbour")
        about_you.save(store, ref, about_you.AboutYou("age_65_plus", {}, consent=True), [])
        before = downloads(settings, store, tmp_path / "before")
    finally:
        store.close()
    assert SECRET_TEXT in before["map"] and SECRET_TEXT in before["needs csv"]
    assert SECRET_TEXT in before["html"] and before["gpkg needs"] == "2"

    shown = cli(settings, "residents", "show", str(ref))
    assert shown.exit_code == 0 and SECRET_CONTACT in shown.output and "M32 0AA" in shown.output
    assert "about you          age band age_65_plus" in shown.output  # held apart, shown all the same
    out = tmp_path / "access.json"
    cli(settings, "residents", "export", f"#{ref}", "--out", str(out))
    record = json.loads(out.read_text())
    assert record["reference"] == ref
    assert record["report"]["description"] == SECRET_TEXT + " (edited)"
    assert record["report"]["contact"] == SECRET_CONTACT and record["report"]["postcode"] == "M32 0AA"
    assert record["support"]["count"] == 1
    assert [e["action"] for e in record["moderation_log"]] == ["approve", "edit"]
    assert record["moderation_log"][1]["before_text"] == SECRET_TEXT

    erased = cli(settings, "residents", "erase", str(ref), "--yes")
    assert erased.exit_code == 0 and f"report {ref} erased on" in erased.output

    store = open_user_store(settings)
    try:
        assert resident_rights.find(store, MODERATOR, ref) is None
        assert store.read().execute("SELECT count(*) FROM need_support WHERE need_id = ?",
                                    [ref]).fetchone()[0] == 0
        dump = " ".join(str(v) for t in ("needs", "moderation_log") for r in
                        store.read().execute(f"SELECT * FROM {t}").fetchall() for v in r)
        assert SECRET_TEXT[:20] not in dump and SECRET_CONTACT not in dump
        entries = store.read().execute(
            "SELECT action, reason FROM moderation_log WHERE item_id = ? ORDER BY id", [ref]).fetchall()
        assert [a for a, _ in entries] == ["approve", "edit", "erase"]
        assert entries[-1][1].startswith(f"report {ref} erased on ") and "(command line)" in entries[-1][1]
        after = downloads(settings, store, tmp_path / "after")
        assert row(store, other)["description"] == "Another resident's report stays"
    finally:
        store.close()
    for name, text in after.items():
        assert SECRET_TEXT[:20] not in text and SECRET_CONTACT not in text, name
    assert "Another resident's report stays" in after["needs csv"] and after["gpkg needs"] == "1"

    again = CliRunner().invoke(main, ["residents", "erase", str(ref), "--yes"],
                               env=user_store_env(settings))
    assert again.exit_code == 1 and f"there is no report {ref}" in again.output


def test_the_privacy_notice_fills_in_the_periods_in_force_and_can_be_replaced(
        settings: Settings, tmp_path: Path) -> None:
    from needsmap.voice.privacy import privacy_notice

    shipped = privacy_notice(replace(settings, contact_retention_days=400, rejected_retention_days=30))
    assert "deleted **400 days** after" in shipped and "deleted **30 days** after" in shipped
    assert "reference number" in shipped and "{" not in shipped
    own = tmp_path / "notice.md"
    own.write_text("# Our notice\nWe keep contacts {contact_days} days; {not_a_field} stays.\n",
                   encoding="utf-8")
    assert privacy_notice(replace(settings, privacy_notice=own)) == (
        "# Our notice\nWe keep contacts 365 days; {not_a_field} stays.\n")
    with pytest.raises(ConfigError, match="NEEDSMAP_PRIVACY_NOTICE=.*missing.md: cannot read it"):
        privacy_notice(replace(settings, privacy_notice=tmp_path / "missing.md"))
