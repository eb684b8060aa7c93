"""The optional "about you" questions on the report form, kept apart from what was reported.

A resident may say which Census 2021 age band they are in (and answer the deploying
organisation's own questions, from ``NEEDSMAP_ABOUT_YOU_QUESTIONS``), only after ticking a
consent box; nothing here is ever required. Answers go in their own table, ``about_you``, linked
to the report by its reference only, and leave the tool only as counts above the disclosure
threshold, set beside the area's census profile so commissioners can see who is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from needsmap.errors import ConfigError, ValidationError
from needsmap.store.users import Connection, UserStore
from needsmap.voice import disclosure

BAND_LABELS = {"age_0_15": "0 to 15", "age_16_24": "16 to 24", "age_25_34": "25 to 34",
               "age_35_49": "35 to 49", "age_50_64": "50 to 64", "age_65_plus": "65 and over"}
# The bands of the population table (ingest.population.AGE_BANDS; a test keeps them equal).
AGE_BANDS = tuple(BAND_LABELS)


@dataclass(frozen=True)
class Question:
    """One of the organisation's own questions: a closed list of answers, never required."""
    id: str
    text: str
    options: tuple[str, ...]


def load_questions(path: Path | None) -> list[Question]:
    """The organisation's questions from a JSON list of {"id", "text", "options"}; none unset."""
    if path is None:
        return []
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"NEEDSMAP_ABOUT_YOU_QUESTIONS: cannot read {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise ConfigError(f"NEEDSMAP_ABOUT_YOU_QUESTIONS: {path} must hold a JSON list of questions")
    out, seen = [], set()
    for i, q in enumerate(raw, 1):
        if not (isinstance(q, dict) and isinstance(q.get("id"), str) and isinstance(q.get("text"), str)
                and isinstance(q.get("options"), list) and q["options"]
                and all(isinstance(o, str) for o in q["options"])):
            raise ConfigError(f"NEEDSMAP_ABOUT_YOU_QUESTIONS: {path}, question {i}: needs 'id' and "
                              "'text' (text) and 'options' (a list of answers as text)")
        if q["id"] in seen or q["id"] == "age_band":
            raise ConfigError(f"NEEDSMAP_ABOUT_YOU_QUESTIONS: {path}, question {i}: the id "
                              f"{q['id']!r} is used twice (or is the built-in 'age_band')")
        seen.add(q["id"])
        out.append(Question(q["id"], q["text"], tuple(q["options"])))
    return out


@dataclass(frozen=True)
class AboutYou:
    age_band: str | None
    answers: dict[str, str]
    consent: bool


def check(about: AboutYou, questions: list[Question]) -> list[str]:
    """Problems in plain words; empty when the answers may be kept."""
    problems = []
    if about.age_band is not None and about.age_band not in BAND_LABELS:
        problems.append(f"age band {about.age_band!r} is not one of the Census 2021 bands")
    known = {q.id: q for q in questions}
    for key, value in about.answers.items():
        if key not in known or value not in known[key].options:
            problems.append(f"answer {value!r} to {key!r} is not one of the choices offered")
    return problems


def is_empty(about: AboutYou) -> bool:
    return about.age_band is None and not about.answers


def kept_values(about: AboutYou, questions: list[Question]) -> tuple[object, ...] | None:
    """What ``insert`` keeps for one report (age band, answers as JSON, consent time); None
    without the consent tick or when every question was left unanswered. Checked before the
    report is saved, so answers the questions do not allow refuse the report, not half of it."""
    if not about.consent or is_empty(about):
        return None
    problems = check(about, questions)
    if problems:
        raise ValidationError("about you: " + "; ".join(problems), problems)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    return (about.age_band, json.dumps(about.answers, sort_keys=True), now)


# Where answers are kept: beside reports, and beside priority ballots (table, key column).
TABLES = {"report": ("about_you", "need_id"), "ballot": ("ballot_about_you", "ballot_id")}


def insert(con: Connection, kept: list[tuple[int, tuple[object, ...]]], of: str = "report") -> None:
    """Keep ``(need_id, kept_values)`` pairs (or ballot ids, ``of="ballot"``) in one statement,
    inside the caller's transaction (the one that saves the reports or ballots); one sent again
    keeps its first answers."""
    if not kept:
        return
    table, key = TABLES[of]
    marks = ", ".join("(?, ?, ?, ?)" for _ in kept)
    con.execute(f"INSERT INTO {table} ({key}, age_band, answers, consented_at) VALUES {marks} "
                f"ON CONFLICT ({key}) DO NOTHING",
                [v for need_id, values in kept for v in (need_id, *values)])


def save(store: UserStore, need_id: int, about: AboutYou, questions: list[Question]) -> bool:
    """Keep the answers for report ``need_id`` already saved (its own transaction); True when
    a row was written."""
    values = kept_values(about, questions)
    if values is None:
        return False
    store.write(lambda con: insert(con, [(need_id, values)]), idempotent=True)
    return True


def band_counts(store: UserStore, lsoas: list[str]) -> pd.Series:
    """Approved reports from these LSOAs by the age band their senders gave (zeros filled)."""
    out = pd.Series(0, index=list(AGE_BANDS), dtype="int64")
    if not lsoas:
        return out
    rows = store.read().execute(
        "SELECT a.age_band, count(*) FROM about_you a JOIN needs n ON n.id = a.need_id "
        "WHERE n.status = 'approved' AND a.age_band IS NOT NULL "
        "AND n.lsoa21_code IN (SELECT unnest(?)) GROUP BY 1", [list(lsoas)]).fetchall()
    for band, n in rows:
        if band in out.index:
            out[band] = int(n)
    return out


def census_profile(con: duckdb.DuckDBPyConnection, lsoas: list[str]) -> pd.Series:
    """Census 2021 residents of these LSOAs by age band."""
    sums = ", ".join(f"coalesce(sum({b}), 0)" for b in AGE_BANDS)
    row = con.execute(f"SELECT {sums} FROM population WHERE lsoa21_code IN (SELECT unnest(?))",
                      [list(lsoas)]).fetchone()
    return pd.Series([int(v) for v in row], index=list(AGE_BANDS), dtype="int64")


def compare(counts: pd.Series, census: pd.Series, threshold: int) -> pd.DataFrame:
    """Each band's share of residents beside its share of those who said their age. Counts are
    protected (with their total) first; shares of those who took part are shown only when no
    count is hidden, since a share of a known total gives the count back."""
    frame = counts.reindex(list(AGE_BANDS), fill_value=0).to_frame("took_part")
    table = disclosure.protect_table(frame, threshold)
    shown = table.shown()["took_part"]
    total = None if table.total_hidden or shown.isna().any() else table.total
    out = pd.DataFrame({"age_band": [BAND_LABELS[b] for b in AGE_BANDS],
                        "took_part": shown.to_numpy(),
                        "residents": census.reindex(list(AGE_BANDS)).to_numpy()},
                       index=list(AGE_BANDS))
    res_total = int(out["residents"].sum())
    out["share_of_residents"] = out["residents"] / res_total if res_total else float("nan")
    out["share_of_took_part"] = (shown.astype("Float64") / total) if total else pd.NA
    return out


def comparison_words(row: pd.Series) -> str:
    """"People aged 65 and over are 18% of residents and 6% of those who took part"."""
    took = row["share_of_took_part"]
    took_text = "not shown (small numbers)" if pd.isna(took) else f"{float(took):.0%}"
    return (f"People aged {row['age_band']} are {float(row['share_of_residents']):.0%} of residents "
            f"and {took_text} of those who took part.")
