"""You said, we did: commissioners record decisions on gaps; every change is kept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from needsmap.errors import ValidationError
from needsmap.store.users import UserStore
from needsmap.voice import decisions
from needsmap.voice.accounts import PermissionDenied, User

COMMISSIONER = User("cara", "commissioner", "Cara")
MODERATOR = User("mod", "moderator", "Mo")
LSOA = "E01006108"


def decision(**kw: object) -> decisions.Decision:
    base = dict(lad_code="E08000009", area_level="lsoa21", area_code=LSOA, category="food",
                status="considering", decided_on=date(2026, 3, 2))
    base.update(kw)
    return decisions.Decision(**base)  # type: ignore[arg-type]


def test_only_commissioners_decide(user_store: UserStore) -> None:
    for user in (None, MODERATOR, User("g", "community_group")):
        with pytest.raises(PermissionDenied):
            decisions.record(user_store, user, decision())
    assert user_store.read().execute("SELECT count(*) FROM decisions").fetchone()[0] == 0


def test_bad_decisions_are_refused_with_reasons(user_store: UserStore) -> None:
    for kw, words in (
        ({"status": "declined"}, "say why it was declined"),
        ({"status": "maybe"}, "status must be one of"),
        ({"category": "weather"}, "choose a category"),
        ({"budget": -5.0}, "budget must be between"),
        ({"budget": float("nan")}, "budget must be between"),
        ({"decided_on": date.today() + timedelta(days=3)}, "in the future"),
        ({"area_level": "street"}, "small area, ward or authority"),
        ({"reason": "x" * 1001}, "limited to 1,000"),
    ):
        with pytest.raises(ValidationError, match=words):
            decisions.record(user_store, COMMISSIONER, decision(**kw))
    assert user_store.read().execute("SELECT count(*) FROM decisions").fetchone()[0] == 0


def test_latest_decision_is_current_and_history_is_kept(user_store: UserStore) -> None:
    decisions.record(user_store, COMMISSIONER, decision())
    decisions.record(user_store, COMMISSIONER, decision(category="youth", status="declined",
                                                        reason="A youth club opened next door in 2025"))
    decisions.record(user_store, COMMISSIONER, decision(status="commissioned", budget=25000.0,
                                                        action="Weekend food bank at the library",
                                                        decided_on=date(2026, 5, 1)))
    now = decisions.current(user_store, "E08000009")
    assert list(zip(now["category"], now["status"])) == [("food", "commissioned"), ("youth", "declined")]
    food = now[now["category"] == "food"].iloc[0]
    assert decisions.summary_line(food) == (
        "Commissioned (2026-05-01), budget £25,000. Weekend food bank at the library")
    youth = now[now["category"] == "youth"].iloc[0]
    assert "Reason: A youth club opened" in decisions.summary_line(youth)
    past = decisions.history(user_store, LSOA, "food")
    assert list(past["status"]) == ["considering", "commissioned"]
    assert set(past["recorded_by"]) == {"cara"}
    assert decisions.current(user_store, "E08000009", area_codes=["E01000001"]).empty
    assert decisions.current(user_store, "E08000009", area_codes=[]).empty
    assert decisions.current(user_store, "E08000001").empty


def test_text_is_stored_as_given_not_as_sql(user_store: UserStore) -> None:
    payload = "'); DROP TABLE decisions; -- <script>"
    decisions.record(user_store, COMMISSIONER, decision(status="declined", reason=payload))
    assert decisions.current(user_store, "E08000009")["reason"].iloc[0] == payload
