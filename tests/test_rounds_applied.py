"""A community weighting applied: `needsmap gaps --weighting`, `needsmap report --pack
--weighting` and the pack's Community priorities section, each printing its provenance."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from needsmap.analysis import gaps
from needsmap.cli import main
from needsmap.config import Settings
from needsmap.publish import reports
from needsmap.store import StoreReader, areas
from needsmap.store.users import open_user_store
from needsmap.voice import heard, rounds
from needsmap.voice.accounts import User

COMMISSIONER = User("cam", "commissioner", "Cam")
GROUP = User("grp", "community_group", "Gee")
NAME = "Trafford residents, test round"


def _env(s: Settings) -> dict[str, str | None]:
    return {"NEEDSMAP_DATA_DIR": str(s.data_dir), "NEEDSMAP_STORE": str(s.store_path),
            "NEEDSMAP_USER_STORE": str(s.user_store_path), "NEEDSMAP_MIRROR": None,
            "NEEDSMAP_CACHE": None, "NEEDSMAP_DATABASE_URL": None}


def _run(s: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=_env(s), catch_exceptions=False)


@pytest.fixture
def weighted(store_copy) -> tuple[Settings, rounds.Weighting]:  # noqa: ANN001
    """A closed Trafford round, food 23 votes and money advice 12, kept as a weighting."""
    s = store_copy
    con = StoreReader(s.store_path).cursor()
    lsoas = [r[0] for r in con.execute("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = "
                                       "'E08000009' ORDER BY 1").fetchall()]
    store = open_user_store(s)
    try:
        plan = rounds.RoundPlan("lad", "E08000009", "Trafford", tuple(lsoas), "What first?", "budget",
                                (rounds.project_option("Food bank van", 6000, "food"),
                                 rounds.project_option("Debt advice", 4000, "money_advice"),
                                 rounds.project_option("Community kitchen", 5000, "food")),
                                date.today() - timedelta(days=3), date.today(), budget=10_000)
        rid = rounds.open_round(store, COMMISSIONER, plan)
        van, advice, kitchen = (o.id for o in rounds.get_round(store, rid).options)
        rounds.submit_batch(store, GROUP, rid, [rounds.PaperBallot((van, advice), lsoas[0])] * 12,
                            source="workshop", consent=True)
        rounds.submit_batch(store, GROUP, rid, [rounds.PaperBallot((kitchen,), lsoas[0])] * 11,
                            source="paper", consent=True)
        rounds.close_round(store, COMMISSIONER, rid)
        rnd = rounds.get_round(store, rid)
        res = rounds.results(rnd, rounds.tally(store, rid), heard.area_frame(con, lsoas=lsoas), 10)
        rounds.save_weighting(store, COMMISSIONER, res, NAME, "people at two workshops")
        w = rounds.weighting(store, NAME)
    finally:
        store.close()
    return s, w


def test_community_ranking_scales_by_the_first_priority() -> None:
    rows = pd.DataFrame({"code": ["a", "b", "a", "c"], "category": ["food", "food", "money_advice", "youth"],
                         "gap_score": [0.5, 0.2, 0.9, 0.99]})
    ranked = gaps.community_ranking(rows, {"food": 0.6, "money_advice": 0.3})
    assert ranked["category"].tolist() == ["food", "money_advice", "food"]   # youth not asked
    assert ranked["priority_score"].round(3).tolist() == [0.5, 0.45, 0.2]    # 0.9 x 0.3/0.6
    assert ranked["priority_rank"].tolist() == [1, 2, 3]


def test_gaps_cli_applies_the_weighting_with_its_provenance(weighted, tmp_path) -> None:  # noqa: ANN001
    s, w = weighted
    out = tmp_path / "priorities.csv"
    result = _run(s, "gaps", "--area", "Trafford", "--weighting", NAME, "--out", str(out))
    assert result.exit_code == 0, result.output
    period = rounds.period_words(date.today() - timedelta(days=3), date.today())
    assert (f"Community weighting applied: {NAME}: 23 people voted {period} (people at two "
            "workshops; saved by cam).") in result.output
    assert "Residents chose: Food 66%; Money and advice 34%." in result.output
    frame = pd.read_csv(out)
    assert set(frame["category"]) <= {"food", "money_advice"} and len(frame) > 100
    assert frame["priority_rank"].tolist() == list(range(1, len(frame) + 1))
    assert (frame["priority_score"].diff().dropna() <= 1e-12).all()
    food = frame[frame["category"] == "food"]
    assert (food["community_weight"] == 1.0).all()
    money = frame[frame["category"] == "money_advice"]
    assert money["community_weight"].round(3).eq(round(w.weights["money_advice"] / w.weights["food"], 3)).all()
    missing = _run(s, "gaps", "--area", "Trafford", "--weighting", "Nobody", "--out", str(out))
    assert missing.exit_code != 0 and f"saved ones: {NAME}" in missing.output
    assert _run(s, "gaps", "--area", "Trafford", "--out", str(out)).exit_code != 0  # no category


def test_ward_pack_prints_the_weighting_and_its_priorities(weighted, tmp_path) -> None:  # noqa: ANN001
    s, w = weighted
    con = StoreReader(s.store_path).cursor()
    ward = con.execute("SELECT ward_name FROM lsoa21_lookup WHERE lad_code = 'E08000009' "
                       "ORDER BY ward_name LIMIT 1").fetchone()[0]
    result = _run(s, "report", "--area", "Trafford", "--ward", ward, "--pack", "--weighting", NAME,
                  "--format", "html", "--out", str(tmp_path / "pack"))
    assert result.exit_code == 0, result.output
    assert f"Community weighting applied: {w.provenance()}." in result.output
    html = next((tmp_path / "pack").glob("*.html")).read_text()
    section = html[html.index("<h2>Community priorities</h2>"):]
    section = section[:section.index("</section>")]
    assert f"Community weighting applied: {w.provenance()}." in section
    assert "Food 66%; Money and advice 34%" in section
    store = open_user_store(s)
    try:
        place = areas.resolve_area(con, "Trafford", ward=ward)
        report = reports.build(con, store, place, s, pack=True, with_map=False, weighting=w)
    finally:
        store.close()
    rows = report.priorities
    assert not rows.empty and set(rows["code"]) <= set(place.lsoas)
    assert set(rows["category"]) <= {"food", "money_advice"}
    assert rows["priority_score"].is_monotonic_decreasing
    for r in rows.itertuples():
        assert f"<td class=\"n\">{r.priority_rank}</td><td>{r.name}" in section
    refused = _run(s, "report", "--area", "Trafford", "--weighting", NAME, "--out", str(tmp_path / "x"))
    assert refused.exit_code != 0 and "add --pack" in refused.output
