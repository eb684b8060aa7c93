"""About you: stored apart, both backends, consent, retention and erasure remove it, census comparison."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from needsmap.config import Settings, load_settings
from needsmap.errors import ConfigError, ValidationError
from needsmap.ingest import population
from needsmap.store import StoreReader
from needsmap.store.users import UserStore
from needsmap.voice import about_you, needs, resident_rights, retention
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_postcode

from conftest import trafford_points

MODERATOR = User("mod", "moderator", "Mo")


def test_bands_are_the_census_file_bands(mirror: Path) -> None:
    header = (mirror / "england/population/lsoa21_census2021_population_england.csv").open().readline()
    assert list(about_you.AGE_BANDS) == population.AGE_BANDS == header.strip().split(",")[2:]


def test_questions_setting_reads_a_json_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "questions.json"
    path.write_text(json.dumps([{"id": "carer", "text": "Do you look after someone?",
                                 "options": ["Yes", "No"]}]))
    monkeypatch.setenv("NEEDSMAP_ABOUT_YOU_QUESTIONS", str(path))
    s = load_settings(data_dir=tmp_path)
    [q] = about_you.load_questions(s.about_you_questions)
    assert (q.id, q.options) == ("carer", ("Yes", "No"))
    path.write_text(json.dumps([{"id": "carer", "text": "x"}]))
    with pytest.raises(ConfigError, match="question 1"):
        about_you.load_questions(path)
    assert about_you.load_questions(None) == []


def _report(store: UserStore, place, text: str) -> int:
    return needs.submit(store, needs.NeedReport("food", text, place), session_id=text)


def test_kept_apart_only_with_consent_and_removed_by_erasure_and_retention(
        user_store: UserStore, trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    postcode, _, _, lsoa = trafford_points(trafford_store, 1)[0]
    place = locate_postcode(cur, postcode)
    a, b, c = (_report(user_store, place, t) for t in ("one", "two", "three"))
    assert not about_you.save(user_store, a, about_you.AboutYou("age_65_plus", {}, consent=False), [])
    for ref in (a, b, c):
        assert about_you.save(user_store, ref, about_you.AboutYou("age_65_plus", {}, consent=True), [])
    with pytest.raises(ValidationError, match="Census 2021"):
        about_you.save(user_store, a, about_you.AboutYou("age_70", {}, consent=True), [])
    needs_cols = [r[0] for r in user_store.read().execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'needs'").fetchall()]
    assert "age_band" not in needs_cols
    for ref in (a, b):
        needs.moderate(user_store, MODERATOR, "need", ref, "approve")
    needs.moderate(user_store, MODERATOR, "need", c, "reject", reason="a test")
    assert about_you.band_counts(user_store, [lsoa])["age_65_plus"] == 2   # the rejected one not counted

    def kept() -> list[int]:
        return sorted(r[0] for r in user_store.read().execute("SELECT need_id FROM about_you").fetchall())

    resident_rights.erase(user_store, MODERATOR, a)
    assert kept() == [b, c]
    rule = retention.Rule(contact_days=30, rejected_days=90)
    retention.apply(user_store, rule)
    assert kept() == [b]                       # a rejected report's answers go at once
    retention.apply(user_store, rule, now=datetime.now() + timedelta(days=31))
    assert kept() == []                        # and the rest with the contact details


def test_comparison_hides_small_counts_and_shares() -> None:
    census = pd.Series([100, 100, 100, 100, 100, 500], index=list(about_you.AGE_BANDS))
    counts = pd.Series([0, 12, 20, 30, 30, 8], index=list(about_you.AGE_BANDS))
    out = about_you.compare(counts, census, threshold=10)
    assert pd.isna(out.loc["age_65_plus", "took_part"])
    assert out["took_part"].isna().sum() >= 2            # secondary: the total is published
    assert out["share_of_took_part"].isna().all()
    assert out.loc["age_65_plus", "share_of_residents"] == pytest.approx(0.5)
    big = about_you.compare(pd.Series([0, 10, 20, 30, 30, 10], index=list(about_you.AGE_BANDS)),
                            census, threshold=10)
    assert big.loc["age_65_plus", "share_of_took_part"] == pytest.approx(0.1)
    assert about_you.comparison_words(big.loc["age_65_plus"]) == (
        "People aged 65 and over are 50% of residents and 10% of those who took part.")


def test_a_report_and_its_answers_are_saved_together_or_not_at_all(
        user_store: UserStore, trafford_store: Settings) -> None:
    cur = StoreReader(trafford_store.store_path).cursor()
    place = locate_postcode(cur, trafford_points(trafford_store, 1)[0][0])
    kept = about_you.kept_values(about_you.AboutYou("age_65_plus", {}, consent=True), [])

    def count(table: str) -> int:
        return user_store.read().execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def broken(con, ref: int) -> None:  # noqa: ANN001 - the store's connection
        about_you.insert(con, [(ref, kept)])
        raise RuntimeError("the disk filled up")

    with pytest.raises(RuntimeError):
        needs.submit(user_store, needs.NeedReport("food", "lost", place), session_id="s", also=broken)
    assert (count("needs"), count("about_you")) == (0, 0)
    ref = needs.submit(user_store, needs.NeedReport("food", "kept", place), session_id="s",
                       submission_key="k", also=lambda con, r: about_you.insert(con, [(r, kept)]))
    # sent again (a double click): one report, one set of answers
    assert needs.submit(user_store, needs.NeedReport("food", "kept", place), session_id="s",
                        submission_key="k", also=lambda con, r: about_you.insert(con, [(r, kept)])) == ref
    assert (count("needs"), count("about_you")) == (1, 1)
    with pytest.raises(ValidationError, match="Census 2021"):
        about_you.kept_values(about_you.AboutYou("age_70", {}, consent=True), [])
