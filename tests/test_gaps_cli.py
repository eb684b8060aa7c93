"""`needsmap summaries` and `needsmap gaps` on the Trafford store, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.store import StoreReader
from needsmap.store.users import UserStore
from needsmap.voice import needs
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_point

TRAFFORD = "E08000009"


def _env(s: Settings, user_store: Path) -> dict[str, str | None]:
    return {"NEEDSMAP_DATA_DIR": str(s.data_dir), "NEEDSMAP_STORE": str(s.store_path),
            "NEEDSMAP_USER_STORE": str(user_store), "NEEDSMAP_MIRROR": None, "NEEDSMAP_CACHE": None}


def _run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("level, rows, prefix", [("msoa", 28, "E02"), ("ward", 21, "E05"), ("lad", 1, "E08")])
def test_summaries_writes_one_row_per_area_code_first(trafford_store, tmp_path, level, rows, prefix):
    out = tmp_path / f"{level}.csv"
    result = _run(_env(trafford_store, tmp_path / "u.duckdb"), "summaries", "--level", level,
                  "--area", "Trafford", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote {rows} {level} summaries of IoD2025" in result.output
    assert "Census 2021" in result.output
    frame = pd.read_csv(out)
    assert frame.columns[0] == "code" and len(frame) == rows == frame["code"].nunique()
    assert frame["code"].str.startswith(prefix).all()
    assert {"imd_average_score", "imd_average_rank", "imd_proportion_most_deprived_10pc",
            "imd_extent", "imd_local_concentration", "income_extent"} <= set(frame.columns)
    assert frame["lsoas"].sum() == 139
    if level == "lad":
        assert frame["imd_proportion_most_deprived_10pc"].iloc[0] == pytest.approx(6 / 139)


def test_summaries_of_a_drawn_selection_and_bad_input(trafford_store, tmp_path):
    env = _env(trafford_store, tmp_path / "u.duckdb")
    out = tmp_path / "sel.csv"
    result = _run(env, "summaries", "--level", "selection", "--lsoas", "E01006108, E01006091",
                  "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame["code"]) == ["selection"] and frame["lsoas"].iloc[0] == 2
    bad = CliRunner().invoke(main, ["summaries", "--level", "ward", "--area", "Trafforde",
                                    "--out", str(out)], env=env)
    assert bad.exit_code == 1 and "Did you mean: Trafford" in bad.output


def _approve_a_food_need(s: Settings, user_store: Path) -> str:
    place = locate_point(StoreReader(s.store_path).cursor(), -2.3160, 53.4460)  # Stretford
    store = UserStore(user_store)
    try:
        report = needs.NeedReport("food", "No food bank open at weekends", place)
        need_id = needs.submit(store, report, session_id="s1")
        needs.moderate(store, User("mod", "moderator"), "need", need_id, "approve")
        needs.submit(store, needs.NeedReport("food", "Still waiting", place), session_id="s2")  # pending
    finally:
        store.close()
    return place.lsoa21_code


def test_gaps_ranks_every_lsoa_with_reasons_and_resident_needs(trafford_store, tmp_path):
    user_store = tmp_path / "user.duckdb"
    lsoa = _approve_a_food_need(trafford_store, user_store)
    out = tmp_path / "gaps.csv"
    result = _run(_env(trafford_store, user_store), "gaps", "--area", "Trafford", "--category", "food",
                  "--weight", "imd=1", "--weight", "residents=1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Wrote 139 small areas ranked by gap for Food" in result.output
    frame = pd.read_csv(out)
    assert frame.columns[0] == "code" and len(frame) == 139 == frame["code"].nunique()
    assert list(frame["gap_rank"]) == list(range(1, 140))
    assert frame["gap_score"].is_monotonic_decreasing
    row = frame.set_index("code").loc[lsoa]
    assert row["resident_reports"] == 1  # the pending report does not count
    assert "1 resident report on food" in row["reasons"]
    assert frame["reasons"].str.contains(r"nearest food service [\d.]+ (?:m|km)").all()
    assert set(frame["bivariate_class"]) <= {f"{n}-{p}" for n in (1, 2, 3) for p in (1, 2, 3)}


def test_gaps_weights_change_the_ranking_and_bad_weights_are_refused(trafford_store, tmp_path):
    env = _env(trafford_store, tmp_path / "none.duckdb")
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert _run(env, "gaps", "--area", TRAFFORD, "--category", "health", "--out", str(first)).exit_code == 0
    assert _run(env, "gaps", "--area", TRAFFORD, "--category", "health", "--weight", "crime=1",
                "--weight", "living_environment=2", "--out", str(second)).exit_code == 0
    a, b = pd.read_csv(first), pd.read_csv(second)
    assert list(a["code"][:10]) != list(b["code"][:10])
    assert not (tmp_path / "none.duckdb").exists()  # reading needs never creates a user store
    bad = CliRunner().invoke(main, ["gaps", "--area", TRAFFORD, "--category", "food", "--weight",
                                    "idaci=1", "--out", str(first)], env=env)
    assert bad.exit_code == 1 and "not a measure in the store" in bad.output
