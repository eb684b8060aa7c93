"""Did the gap close? The then-and-now wording, the outcome rule, and a review on the real
Trafford store after a new food service is added to the loaded lists."""

from __future__ import annotations

import csv
import html
from datetime import date
from pathlib import Path
import pytest
from click.testing import CliRunner

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.publish import reports, review
from needsmap.store import areas
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import decisions, loop, needs
from needsmap.voice.accounts import User

from dashboard_support import add_service

THEN = {"small_areas": 1, "nearest_m": 2400.0, "within_radius": 0, "reports": 14, "gap_score": 0.6,
        "gap_rank": 3, "ranked_of": 150}


def test_the_change_in_words_for_commissioners() -> None:
    now = {**THEN, "nearest_m": 600.0, "within_radius": 1, "reports": 3, "gap_score": 0.2,
           "gap_rank": 40}
    assert review.change_words(THEN, now, "food") == (
        "Nearest food service was 2.4 km, now 600 m; food services within 1 km: 0 then, 1 now; "
        "resident reports fell from 14 to 3; its gap was ranked 3rd, now 40th of 150 small areas.")


def test_small_counts_are_worded_for_the_public() -> None:
    now = {**THEN, "reports": 3}
    assert "resident reports fell from 14 to fewer than 10" in review.change_words(THEN, now, "food", 10)
    both_small = review.change_words({**THEN, "reports": 4}, {**THEN, "reports": 3}, "food", 10)
    assert both_small == "Nearest food service still 2.4 km; resident reports still fewer than 10."
    assert "unchanged at 14" in review.change_words(THEN, THEN, "food", 10)
    assert "still 2.4 km" in review.change_words(THEN, THEN, "food")


def test_several_small_areas_say_average_and_rising_reports_say_rose() -> None:
    then = {**THEN, "small_areas": 9, "reports": 2}
    words = review.change_words(then, {**then, "nearest_m": 1500.0, "reports": 5}, "youth")
    assert words.startswith("Average distance to the nearest young people service was 2.4 km, now 1.5 km")
    assert "rose from 2 to 5" in words


@pytest.mark.parametrize(("before", "after", "expected"), [
    (0.6, 0.25, "closed"), (0.6, 0.45, "narrowed"), (0.6, 0.605, "unchanged"),
    (0.4, 0.55, "widened"), (None, 0.5, "unknown"), (0.6, float("nan"), "unknown"),
])
def test_outcomes(before: float | None, after: float, expected: str) -> None:
    assert review.outcome({"gap_score": before}, {"gap_score": after}) == expected


def test_vintage_changes_name_what_was_refreshed() -> None:
    then = {"vintages": {"IoD": "2019 (loaded 2025-01-01)", "Services": "2025 (loaded 2025-01-01)"}}
    now = {"vintages": {"IoD": "2025 (loaded 2026-01-01)", "Services": "2025 (loaded 2025-01-01)"}}
    assert review.vintage_changes(then, now) == ["IoD: 2019 (loaded 2025-01-01) then, 2025 (loaded 2026-01-01) now"]


COM = User("com", "commissioner", "Cam")
MOD = User("mod", "moderator", "Mo")
FAR = "E01006107"  # a Trafford small area whose nearest food service is 2.4 km away


def inside(settings: Settings, lsoa: str) -> tuple[float, float]:
    """A point inside a small area (lon, lat)."""
    return StoreReader(settings.store_path).cursor().execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM boundary "
        "WHERE level = 'lsoa21' AND code = ?)", [lsoa]).fetchone()


def test_a_review_after_a_new_food_service(store_copy: Settings, tmp_path: Path) -> None:
    settings = store_copy
    users = open_user_store(settings)
    try:
        lsoa = FAR
        lon, lat = inside(settings, lsoa)
        ids = [needs.submit(users, needs.NeedReport("food", f"food need {i}",
                                                     needs.Location(lon, lat, lsoa, "E08000009")),
                            session_id=f"s{i}") for i in range(3)]
        for i in ids:
            needs.moderate(users, MOD, "need", i, "approve")
        con = StoreReader(settings.store_path).cursor()
        frozen = review.snapshot(con, users, lad_code="E08000009", area_level="lsoa21", area_code=lsoa,
                                 category="food", settings=settings)
        assert frozen["reports"] == 3 and frozen["nearest_m"] > 2000 and frozen["within_radius"] == 0
        did = loop.record(users, COM, decisions.Decision("E08000009", "lsoa21", lsoa, "food", "considering",
                                                         date.today(), action="=A new pantry"),
                          loop.Links(tuple(ids)), frozen, settings)
        before = review.review(con, users, ["E08000009"], settings, exact=True)
        assert before.decisions[0].outcome == "unchanged"
        add_service(settings.store_path, "New pantry", "food", lon, lat, lsoa)
        needs.moderate(users, MOD, "need", ids[0], "reject", reason="a duplicate")
        loop.move(users, COM, did, "in_place", date.today(), settings)
        loop.answer(users, decision_id=did, need_id=ids[1], respondent=loop.respondent_for_need(ids[1]),
                    answer="yes", comment="Open three days a week now")
        con = StoreReader(settings.store_path).cursor()
        exact = review.review(con, users, ["E08000009"], settings, exact=True)
        (item,) = exact.decisions
        assert item.now["nearest_m"] < 200 and item.now["within_radius"] == 1
        assert item.outcome in ("closed", "narrowed")
        assert item.change.startswith(f"Nearest food service was "
                                      f"{frozen['nearest_m'] / 1000:.1f} km, now ")
        assert "resident reports fell from 3 to 2" in item.change
        assert item.comments == ["Open three days a week now"] and item.stage_label == "In place"
        assert exact.by_stage["in_place"] == 1 and sum(exact.by_outcome.values()) == 1
        public = review.review(con, users, ["E08000009"], settings)
        assert public.decisions[0].comments == []
        assert "fewer than 10" in public.decisions[0].change
        assert "too few" in public.decisions[0].answers_text
        assert "1 decision followed: in place 1." in public.summary
        frame = review.table(public)
        assert list(frame.columns) == list(review.CSV_COLUMNS) and frame["decision"].tolist() == [did]
        wards = areas.wards_of_lsoas(con, "E08000009")
        ward = wards.loc[wards["lsoa21_code"] == lsoa, "ward_code"].iloc[0]
        pack = reports.build(con, users, areas.resolve_area(con, "Trafford", ward=ward), settings,
                             pack=True, with_map=False)
        page = reports.render_html(pack)
        section = page.split("<h2>Did the gap close?</h2>")[1].split("</section>")[0]
        assert html.escape(public.decisions[0].change, quote=False) in section
        assert "=A new pantry" in section and "too few to show" in section
        assert "Open three days" not in page  # comments are for commissioners only
    finally:
        users.close()
    env = {"NEEDSMAP_STORE": str(settings.store_path), "NEEDSMAP_USER_STORE": str(settings.user_store_path),
           "NEEDSMAP_DATABASE_URL": ""}
    for command in ("review", "list"):
        out = tmp_path / f"{command}.csv"
        done = CliRunner().invoke(main, ["decisions", command, "--area", "Trafford", "--out", str(out)],
                                  env=env)
        assert done.exit_code == 0, done.output
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [r["decision"] for r in rows] == [str(did)]
        assert rows[0]["what_is_done"] == "'=A new pantry"  # inert in a spreadsheet
        assert rows[0]["stage"] == "In place"
    assert "1 decision followed: in place 1." in done.output or command == "list"
