"""Priorities rounds: hand-made elections with known outcomes, one vote per browser, closed and
unopened rounds refusing ballots, facilitators' batches, disclosure control on every breakdown,
community weightings and the moderation log, on both user-store backends."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from needsmap.errors import ValidationError
from needsmap.store.users import open_user_store
from needsmap.voice import about_you, heard, rounds
from needsmap.voice.accounts import PermissionDenied, User

COMMISSIONER = User("cam", "commissioner", "Cam")
MODERATOR = User("mo", "moderator", "Mo")
GROUP = User("grp", "community_group", "Gee", "Test Forum")
RESIDENT = User("res", "public", "Resident")
TODAY = date.today()
LSOAS = ("E01000001", "E01000002", "E01000003", "E01000004")
# Two wards of two small areas each, in deciles 1, 1, 2 and 9.
AREAS = pd.DataFrame({"ward_name": ["North", "North", "South", "South"],
                      "imd_decile": [1, 1, 2, 9]}, index=pd.Index(LSOAS, name="lsoa21_code"))


# ---------------------------------------------------------------------------- outcomes by hand


def test_equal_shares_funds_the_smaller_groups_project_most_votes_does_not() -> None:
    """10 voters, £100. Six approve projects 1 (£60) and 2 (£40); four approve project 3 (£40).
    Most votes: 1 and 2 (6 votes each; together £100), 3 no longer fits. Equal Shares: each
    voter holds £10; 1 and 2 cost their six supporters the same per £ of gain (1/6), the tie
    goes to 1, which uses all of their £60; 2 is then unaffordable, and the four fund 3 with
    their £40."""
    costs = {1: 60.0, 2: 40.0, 3: 40.0}
    ballots = [(1, 2)] * 6 + [(3,)] * 4
    votes = {1: 6, 2: 6, 3: 4}
    assert rounds.most_votes(costs, votes, 100.0) == [1, 2]
    assert rounds.equal_shares(costs, ballots, 100.0) == [1, 3]


def test_a_project_costing_more_than_the_budget_is_never_funded() -> None:
    """Project 1 (£150, every vote) cannot be afforded: most votes passes to 2 and 3; Equal
    Shares cannot fund it either (all ten voters hold £100 together) and funds the others."""
    costs = {1: 150.0, 2: 50.0, 3: 30.0}
    ballots = [(1, 2)] * 7 + [(1, 3)] * 3
    votes = {1: 10, 2: 7, 3: 3}
    assert rounds.most_votes(costs, votes, 100.0) == [2, 3]
    assert rounds.equal_shares(costs, ballots, 100.0) == [2, 3]


def test_ties_go_to_the_option_listed_first() -> None:
    """Two £60 projects with five votes each and £100: only one fits; both methods fund the
    first listed (the lower id), and an equal split of voters gives each group £50, so Equal
    Shares funds nothing else."""
    costs = {7: 60.0, 8: 60.0}
    assert rounds.most_votes(costs, {7: 5, 8: 5}, 100.0) == [7]
    assert rounds.equal_shares(costs, [(7, 8)] * 5 + [(7, 8)] * 5, 100.0) == [7]
    # nobody voted for a project: it is not funded even when money is left
    assert rounds.most_votes({1: 10.0, 2: 10.0}, {1: 3}, 100.0) == [1]
    assert rounds.equal_shares({1: 10.0, 2: 10.0}, [(1,)] * 3, 100.0) == [1]


def test_equal_shares_is_completed_to_spend_what_it_can() -> None:
    """Two voters, £100, £50 each. Both approve project 1 (£60), the second also project 2
    (£40). Plain Equal Shares funds 1 (£30 each) and then the second voter's £20 cannot buy 2:
    £40 unspent. Raising each share step by step, at £70 each the second voter can pay for 2
    as well, and 1 and 2 together still fit the £100: both are funded."""
    assert rounds.equal_shares({1: 60.0, 2: 40.0}, [(1,), (1, 2)], 100.0) == [1, 2]
    assert rounds.most_votes({1: 60.0, 2: 40.0}, {1: 2, 2: 1}, 100.0) == [1, 2]


def test_the_difference_is_said_in_plain_words() -> None:
    rnd = _round_object("budget", [(1, "Food bank van"), (2, "Debt advice"), (3, "Youth kitchen")])
    words = rounds.difference_words(rnd, [1, 3], [1, 2])
    assert words.startswith("The two methods fund different projects: Equal Shares also funds "
                            "'Youth kitchen', which most votes leaves out; most votes funds "
                            "'Debt advice', which Equal Shares leaves out.")
    assert rounds.difference_words(rnd, [1], [1]) == "Both methods fund the same projects."


def test_period_in_words() -> None:
    assert rounds.period_words(date(2027, 3, 1), date(2027, 3, 31)) == "1-31 March 2027"
    assert rounds.period_words(date(2027, 2, 28), date(2027, 3, 3)) == "28 February - 3 March 2027"
    assert rounds.period_words(date(2026, 12, 1), date(2027, 1, 5)) == "1 December 2026 - 5 January 2027"


def _round_object(kind: str, options: list[tuple[int, str]]) -> rounds.Round:
    return rounds.Round(1, None, "cam", "lad", "E08000009", "Trafford", "E08000009", LSOAS,  # type: ignore[arg-type]
                        "What first?", kind, 2, 100.0, TODAY, TODAY, False, "closed", None,
                        tuple(rounds.Option("project", label, cost=10.0, id=i) for i, label in options))


# ---------------------------------------------------------------------------- disclosure


def _published_system(b: rounds.Breakdowns, one_choice: bool,
                      ballots: object = None) -> tuple[list[object], list[tuple[int, list[int]]]]:
    """Every published figure of the breakdowns (hidden = None) and how they add up, rebuilt
    from the tables as a reader sees them: this is what an attacker can subtract with (with
    one choice a ballot, the number who voted is the sum of all votes)."""
    cells: list[object] = []

    def add(v: object) -> int:
        cells.append(None if pd.isna(v) else int(v))
        return len(cells) - 1

    options = list(b.overall.index)
    totals = {o: add(b.overall[o]) for o in options}
    grand = add(None)  # the sum of all votes: not published, but an attacker can name it
    relations = []
    for table in (b.by_ward, b.by_decile):
        rows = []
        columns: dict[object, list[int]] = {o: [] for o in options}
        for _, row in table.iterrows():
            ids = [add(row[o]) for o in options]
            for o, i in zip(options, ids):
                columns[o].append(i)
            rows.append(add(row["all_options"]))
            relations.append((rows[-1], ids))
        for o in options:
            relations.append((totals[o], columns[o]))
        relations.append((grand, rows))
    relations.append((grand, list(totals.values())))
    if one_choice:
        relations.append((add(b.ballots if ballots is None else ballots), [grand]))
    return cells, relations  # type: ignore[return-value]


def _recoverable(cells: list[object], relations: list[tuple[int, list[int]]]) -> list[int]:
    """Hidden cells whose value follows exactly from the shown ones (linear algebra)."""
    hidden = [i for i, v in enumerate(cells) if v is None]
    if not hidden:
        return []
    rows = []
    for total, parts in relations:
        row = np.zeros(len(cells))
        row[parts] += 1
        row[total] -= 1
        rows.append(row[hidden])
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    out = []
    for k, cell in enumerate(hidden):
        unit = np.zeros(len(hidden))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            out.append(cell)
    return out


@pytest.mark.parametrize("most", [1, 2])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_no_small_vote_count_can_be_worked_out_from_any_breakdown(seed: int, most: int) -> None:
    """Random small rounds (one choice a ballot, or up to two): every count from 1 to
    threshold - 1 is hidden in the ward, the decile and the overall tables, and none can be
    recovered by adding and subtracting the published figures, the number who voted included."""
    rng = np.random.default_rng(seed)
    rnd = _round_object("approval", [(1, "a"), (2, "b"), (3, "c")])
    n = int(rng.integers(8, 40))
    ballots = pd.DataFrame({"ballot_id": range(n),
                            "lsoa21_code": rng.choice([*LSOAS, None], size=n)})
    choices = pd.DataFrame([(i, int(o)) for i in range(n)
                            for o in rng.choice([1, 2, 3], size=int(rng.integers(1, most + 1)), replace=False)],
                           columns=["ballot_id", "option_id"])
    threshold = 5
    res = rounds.results(rnd, rounds.Tally(ballots, choices), AREAS, threshold)
    b = res.breakdowns
    exact_ward, exact_decile = rounds._tables(rnd, rounds.Tally(ballots, choices), AREAS)
    for shown, exact in ((b.by_ward, exact_ward), (b.by_decile, exact_decile)):
        for o in exact.columns:
            for g in exact.index:
                v = int(exact.loc[g, o])
                assert pd.isna(shown.loc[g, o]) or int(shown.loc[g, o]) == v
                if 0 < v < threshold:
                    assert pd.isna(shown.loc[g, o]), (g, o, v)
    for o, v in res.votes.items():
        if 0 < v < threshold:
            assert pd.isna(b.overall[o])
    one = most == 1
    cells, relations = _published_system(b, one)
    recoverable = set(_recoverable(cells, relations))
    # what could be worked out must not be a small count: the same system, nothing hidden
    exact = rounds.protect_breakdowns(exact_ward, exact_decile, n, 1)
    exact_cells, _ = _published_system(exact, one, n)
    exact_cells[len(exact.overall)] = len(choices)  # the sum of all votes
    assert not [i for i in recoverable if 0 < exact_cells[i] < threshold]
    assert b.ballots in (None, n) and (b.ballots is not None or n < threshold or one)


# ---------------------------------------------------------------------------- in the store


def _plan(kind: str = "approval", **extra: object) -> rounds.RoundPlan:
    options = (tuple(rounds.project_option(n, c, cat) for n, c, cat in
                     (("Food bank van", 60.0, "food"), ("Debt advice", 40.0, "money_advice"),
                      ("Community kitchen", 40.0, "food")))
               if kind == "budget" else
               (rounds.category_option("food"), rounds.category_option("money_advice"),
                rounds.gap_option("food", "E05000820", "Stretford",
                                  {"gap_score": 0.81, "need_class": 3, "lsoas": ["E01000001"]})))
    values = dict(area_kind="lad", area_code="E08000009", area_name="Trafford", lsoas=LSOAS,
                  question="What should come first?", kind=kind, options=options,
                  opens_on=TODAY - timedelta(days=1), closes_on=TODAY + timedelta(days=30),
                  max_choices=2 if kind == "approval" else None,
                  budget=100.0 if kind == "budget" else None, lad_code="E08000009")
    values.update(extra)
    return rounds.RoundPlan(**values)  # type: ignore[arg-type]


def test_only_commissioners_and_moderators_run_rounds(user_store) -> None:
    for user in (GROUP, RESIDENT):
        with pytest.raises(PermissionDenied):
            rounds.open_round(user_store, user, _plan())
    assert rounds.open_round(user_store, MODERATOR, _plan())
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    with pytest.raises(PermissionDenied):
        rounds.close_round(user_store, GROUP, rid)


def test_a_plan_with_problems_is_refused_with_each_named(user_store) -> None:
    bad = _plan("budget", budget=None, closes_on=TODAY - timedelta(days=5),
                options=(rounds.project_option("Van", 0.0), rounds.project_option("van", 10.0)))
    with pytest.raises(ValidationError) as info:
        rounds.open_round(user_store, COMMISSIONER, bad)
    text = " | ".join(info.value.problems)
    for expected in ("closes before it opens", "give the budget", "same name",
                     "option 1: give the project's cost"):
        assert expected in text
    assert not rounds.rounds(user_store)


def test_one_browser_one_vote_across_reloads_and_restarts(user_settings) -> None:
    store = open_user_store(user_settings)
    try:
        rid = rounds.open_round(store, COMMISSIONER, _plan())
        rnd = rounds.get_round(store, rid)
        food, money, gap = (o.id for o in rnd.options)
        assert rnd.options[2].evidence == {"gap_score": 0.81, "need_class": 3, "lsoas": ["E01000001"]}
        first = rounds.cast(store, rid, [food, gap], session_id="token-a", lsoa21_code=LSOAS[0])
        assert first is not None and rounds.has_voted(store, rid, "token-a")
        # the same browser again (a reload keeps the cookie, so the same token): not counted
        assert rounds.cast(store, rid, [money], session_id="token-a", lsoa21_code=LSOAS[1]) is None
        assert rounds.cast(store, rid, [money], session_id="token-b") is not None
    finally:
        store.close()
    store = open_user_store(user_settings)  # a restart of the app, the same cookie
    try:
        assert rounds.has_voted(store, rid, "token-a")
        assert rounds.cast(store, rid, [money], session_id="token-a") is None
        t = rounds.tally(store, rid)
        assert len(t.ballots) == 2
        assert sorted(t.choices["option_id"]) == sorted([food, gap, money])
        # the token itself is never kept
        keys = [r[0] for r in store.read().execute("SELECT voter_key FROM ballots").fetchall()]
        assert "token-a" not in keys and len(set(keys)) == 2
    finally:
        store.close()


def test_ballots_outside_the_rules_are_refused(user_store) -> None:
    rid = rounds.open_round(user_store, COMMISSIONER, _plan(require_postcode=True))
    ids = [o.id for o in rounds.get_round(user_store, rid).options]
    cases = [([], LSOAS[0], "choose at least one option"),
             (ids, LSOAS[0], "choose up to 2 options"),
             ([ids[0]], None, "give a postcode in Trafford"),
             ([ids[0]], "E01999999", "not in Trafford"),
             ([ids[0], 99999], LSOAS[0], "not options of this round")]
    for choices, lsoa, expected in cases:
        with pytest.raises(ValidationError) as info:
            rounds.cast(user_store, rid, choices, session_id="t", lsoa21_code=lsoa)
        assert expected in " ".join(info.value.problems)
    budget = rounds.open_round(user_store, COMMISSIONER, _plan("budget"))
    projects = [o.id for o in rounds.get_round(user_store, budget).options]
    with pytest.raises(ValidationError, match="not counted yet") as info:
        rounds.cast(user_store, budget, projects, session_id="t")
    assert "cost £140, more than the budget of £100" in info.value.problems[0]
    assert not len(rounds.tally(user_store, rid).ballots)


def test_a_closed_or_not_yet_open_round_refuses_ballots(user_store) -> None:
    later = rounds.open_round(user_store, COMMISSIONER, _plan(opens_on=TODAY + timedelta(days=2)))
    option = rounds.get_round(user_store, later).options[0].id
    with pytest.raises(ValidationError, match="opens on"):
        rounds.cast(user_store, later, [option], session_id="t")
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    option = rounds.get_round(user_store, rid).options[0].id
    assert rounds.cast(user_store, rid, [option], session_id="t")
    rounds.close_round(user_store, COMMISSIONER, rid, reason="workshop season over")
    with pytest.raises(ValidationError, match="closed on"):
        rounds.cast(user_store, rid, [option], session_id="u")
    with pytest.raises(ValidationError, match="closed on"):
        rounds.submit_batch(user_store, GROUP, rid, [rounds.PaperBallot((option,))],
                            source="paper", consent=True)
    with pytest.raises(ValidationError, match="already closed"):
        rounds.close_round(user_store, COMMISSIONER, rid)
    # past its closing day, a round open by status refuses too, and counts as finished
    past = rounds.get_round(user_store, later)
    assert past.refusal(TODAY + timedelta(days=40)).startswith("this round closed on")
    assert past.finished(TODAY + timedelta(days=40)) and not past.finished(TODAY)
    assert len(rounds.tally(user_store, rid).ballots) == 1


def test_workshop_batches_need_consent_and_are_saved_once(user_store) -> None:
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    food, money, _ = (o.id for o in rounds.get_round(user_store, rid).options)
    batch = [rounds.PaperBallot((food,), LSOAS[0]), rounds.PaperBallot((food, money), None)]
    with pytest.raises(ValidationError, match="not saved") as info:
        rounds.submit_batch(user_store, GROUP, rid, batch, source="workshop", consent=False)
    assert "agreed to it being recorded" in info.value.problems[0]
    with pytest.raises(ValidationError) as info:
        rounds.submit_batch(user_store, GROUP, rid, [*batch, rounds.PaperBallot((), None)],
                            source="workshop", consent=True)
    assert info.value.problems == ["ballot 3: choose at least one option"]
    with pytest.raises(PermissionDenied):
        rounds.submit_batch(user_store, RESIDENT, rid, batch, source="workshop", consent=True)
    first = rounds.submit_batch(user_store, GROUP, rid, batch, source="workshop", consent=True,
                                submission_key="sheet-1")
    again = rounds.submit_batch(user_store, GROUP, rid, batch, source="workshop", consent=True,
                                submission_key="sheet-1")
    assert first == again and len(first) == 2
    rows = user_store.read().execute(
        "SELECT source, consent_recorded, entered_by, voter_key FROM ballots ORDER BY id").fetchall()
    assert rows == [("workshop", True, "grp", None)] * 2
    log = rounds.round_log(user_store, rid)
    assert [a for _, _, a, _ in log] == ["open_round", "enter_ballots"]
    assert log[1][1] == "grp" and log[1][3] == "2 workshop ballots"


def test_about_you_on_a_ballot_is_kept_apart_and_only_with_consent(user_store) -> None:
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    option = rounds.get_round(user_store, rid).options[0].id
    a = rounds.cast(user_store, rid, [option], session_id="a",
                    about=about_you.AboutYou("age_65_plus", {}, consent=True))
    rounds.cast(user_store, rid, [option], session_id="b",
                about=about_you.AboutYou("age_16_24", {}, consent=False))
    with pytest.raises(ValidationError, match="about you"):
        rounds.cast(user_store, rid, [option], session_id="c",
                    about=about_you.AboutYou("age 200", {}, consent=True))
    kept = user_store.read().execute("SELECT ballot_id, age_band FROM ballot_about_you").fetchall()
    assert kept == [(a, "age_65_plus")]
    columns = [r[0] for r in user_store.read().execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'ballots'").fetchall()]
    assert "age_band" not in columns
    assert len(rounds.tally(user_store, rid).ballots) == 2  # the refused one left nothing


def test_results_weighting_and_the_whole_lifecycle_in_the_log(user_store) -> None:
    rid = rounds.open_round(user_store, COMMISSIONER, _plan("budget"))
    van, advice, kitchen = (o.id for o in rounds.get_round(user_store, rid).options)
    for i in range(12):  # twelve want the van and the advice, eleven the kitchen alone
        rounds.cast(user_store, rid, [van, advice], session_id=f"a{i}", lsoa21_code=LSOAS[i % 2])
    rounds.submit_batch(user_store, GROUP, rid, [rounds.PaperBallot((kitchen,), LSOAS[2])] * 11,
                        source="paper", consent=True)
    rnd = rounds.get_round(user_store, rid)
    res = rounds.results(rnd, rounds.tally(user_store, rid), AREAS, 10)
    with pytest.raises(ValidationError, match="not saved") as info:
        rounds.save_weighting(user_store, COMMISSIONER, res, "Trafford, now", "Trafford residents")
    assert "close the round first" in info.value.problems[0]
    rounds.close_round(user_store, MODERATOR, rid)
    rnd = rounds.get_round(user_store, rid)
    res = rounds.results(rnd, rounds.tally(user_store, rid), AREAS, 10)
    table = res.table()
    assert table["option"].tolist() == ["Food bank van", "Debt advice", "Community kitchen"]
    assert table["votes"].tolist() == [12, 12, 11]
    # 23 voters hold £100/23 (£4.35) each. The van would cost its twelve £5 each: too much.
    # The advice costs them £3.33 each (1/12 per £ of gain), the kitchen its eleven £3.64
    # (1/11): the advice first, then the kitchen. Most votes: the van and the advice (£100).
    assert res.equal_shares == [advice, kitchen] and res.most_votes == [van, advice]
    assert ("Equal Shares also funds 'Community kitchen', which most votes leaves out; most "
            "votes funds 'Food bank van', which Equal Shares leaves out") in res.difference()
    assert res.breakdowns.ballots == 23
    north = res.breakdowns.by_ward.loc["North"]
    assert north[van] == 12 and north[advice] == 12 and north[kitchen] == 0
    assert res.breakdowns.by_decile.loc["2", kitchen] == 11
    assert rounds.category_weights(res) == {"food": round(23 / 35, 3), "money_advice": round(12 / 35, 3)}
    with pytest.raises(PermissionDenied):
        rounds.save_weighting(user_store, GROUP, res, "x", "y")
    rounds.save_weighting(user_store, COMMISSIONER, res, "Trafford residents, spring",
                          "people who live or work in Trafford")
    with pytest.raises(ValidationError, match="exists already"):
        rounds.save_weighting(user_store, COMMISSIONER, res, "Trafford residents, spring", "x")
    w = rounds.weighting(user_store, "Trafford residents, spring")
    assert w.weights == {"food": 0.657, "money_advice": 0.343} and w.ballots == 23
    period = rounds.period_words(TODAY - timedelta(days=1), TODAY)
    assert w.provenance() == (f"Trafford residents, spring: 23 people voted {period} (people who "
                              "live or work in Trafford; saved by cam)")
    with pytest.raises(ValidationError, match="saved ones: Trafford residents, spring"):
        rounds.weighting(user_store, "Nowhere")
    assert [a for _, _, a, _ in rounds.round_log(user_store, rid)] == [
        "open_round", "enter_ballots", "close_round", "save_weighting"]


def test_a_result_with_small_counts_cannot_become_a_weighting(user_store) -> None:
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    food, money, _ = (o.id for o in rounds.get_round(user_store, rid).options)
    for i in range(12):
        rounds.cast(user_store, rid, [food] if i else [money], session_id=f"s{i}")
    rounds.close_round(user_store, COMMISSIONER, rid)
    res = rounds.results(rounds.get_round(user_store, rid), rounds.tally(user_store, rid), AREAS, 10)
    assert pd.isna(res.breakdowns.overall[money])
    with pytest.raises(ValidationError) as info:
        rounds.save_weighting(user_store, COMMISSIONER, res, "Small", "few")
    assert "small counts" in info.value.problems[0]


def test_heard_counts_ballots_by_small_area(user_store) -> None:
    assert "ballots" in heard.kinds_counted(user_store)
    rid = rounds.open_round(user_store, COMMISSIONER, _plan())
    option = rounds.get_round(user_store, rid).options[0].id
    for i, lsoa in enumerate([LSOAS[0], LSOAS[0], LSOAS[1], None]):
        rounds.cast(user_store, rid, [option], session_id=f"h{i}", lsoa21_code=lsoa)
    counts = heard.participation_counts(user_store, list(LSOAS[:2]))
    assert counts["ballots"].tolist() == [2, 1]

