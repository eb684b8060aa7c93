"""Priorities: residents vote on what should come first; commissioners open and close rounds,
enter paper and workshop ballots, see the results and keep them as a community weighting."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import report_texts as words
from dashboard.auth import current_user
from dashboard.common import (
    REFUSED,
    choose_area,
    cookie_state,
    forget_submission,
    read,
    reader,
    session_id,
    show_literal,
    show_problems,
    submission_key,
    user_store,
)
from needsmap.analysis import gaps
from needsmap.config import load_settings
from needsmap.errors import ValidationError
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.voice import about_you, disclosure, heard, needs, rounds
from needsmap.voice.locate import locate_postcode
from needsmap.voice.privacy import escape_markdown

FLASH = "priorities_flash"
POSTCODE = "Your postcode (you can leave this out)"
POSTCODE_NEEDED = "Your postcode (this round counts people who live or work in the area)"
SEND_VOTE = "Send my vote"
CONSENT = ("Everyone whose ballot is entered here agreed to their vote being recorded and "
           "counted (never with their name).")
PROJECTS_HELP = ("One project a line: its name, its cost in pounds and, if it fits one, its need "
                 "category, separated by semicolons. For example: Food bank van; 6000; food")


def money(value: float | None) -> str:
    return "" if value is None else f"£{value:,.0f}"


def option_text(o: rounds.Option) -> str:
    return o.label + (f" ({money(o.cost)})" if o.cost is not None else "")


def place_of(postcode: str) -> str | None:
    """The small area of a postcode typed in (None when left empty); refuses unknown ones."""
    if not postcode.strip():
        return None
    return locate_postcode(reader().cursor(), postcode).lsoa21_code


def parse_projects(text: str) -> list[rounds.Option]:
    """Projects typed one a line ("name; cost; category"); every problem names its line."""
    found, problems = [], []
    by_label = {c.label.lower(): c.id for c in taxonomy.CATEGORIES}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        try:
            cost = float(parts[1].replace("£", "").replace(",", "")) if len(parts) > 1 else None
        except ValueError:
            cost = None
        category = parts[2] if len(parts) > 2 and parts[2] else None
        category = by_label.get((category or "").lower(), category)
        if cost is None:
            problems.append(f"line {n}: give the cost after the name, e.g. 'Food bank van; 6000'")
            continue
        if category is not None and category not in taxonomy.BY_ID:
            problems.append(f"line {n}: {category!r} is not a need category")
            continue
        found.append(rounds.project_option(parts[0], cost, category))
    if problems:
        raise ValidationError("the projects could not be read", problems)
    return found


def gap_options(area: areas.Area, categories: list[str], ward_codes: list[str],
                ward_names: dict[str, str], lookup: pd.DataFrame) -> list[rounds.Option]:
    """Each chosen category in each chosen ward, its Gaps figures kept with it."""
    settings = load_settings()
    place = area.code if area.kind == "lad" else None
    approved = tuple(needs.approved_counts(user_store(), place, lsoas=None if place else area.lsoas))
    out = []
    for category in categories:
        table = read(gaps.gap_table, lad_code=place, lsoas=None if place else list(area.lsoas),
                     category=category, needs=approved, suppress_below=settings.suppress_below)
        for ward in ward_codes:
            lsoas = lookup.loc[lookup["ward_code"] == ward, "lsoa21_code"]
            out.append(rounds.gap_option(category, ward, ward_names[ward],
                                         gaps.ward_evidence(table, lsoas, ward_names[ward])))
    return out


def start_round(area: areas.Area, user) -> None:  # noqa: ANN001
    """The commissioner's form for a new round."""
    lookup = read(areas.wards_of_lsoas, lsoas=list(area.lsoas))
    ward_names = dict(zip(lookup["ward_code"], lookup["ward_name"]))
    with st.expander("Start a priorities round", expanded=True):
        where = st.selectbox("Who is the round for?", ["", *sorted(ward_names, key=ward_names.get)],
                             format_func=lambda c: ward_names.get(c, f"All of {area.name}"),
                             key="round_where")
        question = st.text_input("The question residents are asked", max_chars=rounds.MAX_QUESTION,
                                 key="round_question",
                                 placeholder="For example: What should we fund first?")
        kind = st.radio("How do people vote?", list(rounds.KINDS), format_func=rounds.KINDS.get,
                        key="round_kind", horizontal=True)
        options: list[rounds.Option] = []
        max_choices = budget = None
        if kind == "approval":
            chosen = st.multiselect("Need categories to choose from", [c.id for c in taxonomy.NEED_CATEGORIES],
                                    format_func=taxonomy.label, key="round_categories")
            gap_cats = st.multiselect("Gaps to choose from: these categories...",
                                      [c.id for c in taxonomy.NEED_CATEGORIES], format_func=taxonomy.label,
                                      key="round_gap_categories")
            gap_wards = st.multiselect("...in these wards (the Gaps figures are kept with each)",
                                       sorted(ward_names, key=ward_names.get), format_func=ward_names.get,
                                       key="round_gap_wards")
            options = [rounds.category_option(c) for c in chosen]
            if gap_cats and gap_wards:
                options += gap_options(area, gap_cats, gap_wards, ward_names, lookup)
            max_choices = int(st.number_input("Each person may choose up to", 1, rounds.MAX_OPTIONS, 2,
                                              key="round_max"))
        else:
            budget = float(st.number_input("Budget to share (pounds)", 1, int(rounds.MAX_BUDGET), 10_000,
                                           step=500, key="round_budget"))
            text = st.text_area("Projects", key="round_projects", help=PROJECTS_HELP,
                                placeholder="Food bank van; 6000; food")
            st.caption(PROJECTS_HELP)
        left, right = st.columns(2)
        opens = left.date_input("Opens on", date.today(), key="round_opens", format="DD/MM/YYYY")
        closes = right.date_input("Closes on", date.today() + timedelta(days=28), key="round_closes",
                                  format="DD/MM/YYYY")
        postcode = st.checkbox("Ask for a postcode in the area (votes from elsewhere are refused)",
                               key="round_postcode")
        if st.button("Open the round", type="primary", key="round_open"):
            try:
                if kind == "budget":
                    options = parse_projects(text)
                target = (read(areas.resolve_area, area.code, ward=where) if where else area)
                plan = rounds.RoundPlan(target.kind, target.code, target.name, tuple(target.lsoas),
                                        question, kind, tuple(options), opens, closes, max_choices,
                                        budget, postcode, area.lad_code)
                rid = rounds.open_round(user_store(), user, plan, submission_key("round"))
            except REFUSED as exc:
                show_problems(exc)
                return
            forget_submission("round")
            st.session_state[FLASH] = f"Round {rid} is open: residents can vote on this page."
            st.rerun()


def vote(rnd: rounds.Round, questions: list[about_you.Question]) -> None:
    """A resident's ballot, once per browser."""
    store = user_store()
    if cookie_state() == "refused":
        st.warning("Your browser does not keep this site's cookie, so we cannot tell whether you "
                   "have voted already. Allow cookies for this site and reload the page to vote.")
        return
    if rounds.has_voted(store, rnd.id, session_id()):
        st.success("You have voted in this round. Thank you: your vote is counted once.")
        return
    with st.form(f"ballot-{rnd.id}"):
        hint = (f"Choose up to {rnd.max_choices}." if rnd.kind == "approval" else
                f"Choose projects that together cost up to {money(rnd.budget)}.")
        st.markdown(hint)
        ticked = [o.id for o in rnd.options
                  if st.checkbox(option_text(o), key=f"ballot-{rnd.id}-{o.id}")]
        postcode = st.text_input(POSTCODE_NEEDED if rnd.require_postcode else POSTCODE,
                                 key=f"ballot-{rnd.id}-postcode")
        st.markdown(f"**{words.ABOUT_YOU}**")
        st.caption(words.ABOUT_YOU_NOTE.replace("report", "vote"))
        consent = st.checkbox(words.ABOUT_YOU_CONSENT, key=f"ballot-{rnd.id}-consent")
        band = st.selectbox(words.YOUR_AGE, list(about_you.BAND_LABELS), index=None,
                            format_func=about_you.BAND_LABELS.get, placeholder=words.NOT_SAY,
                            key=f"ballot-{rnd.id}-age")
        answers = {q.id: st.selectbox(f"{q.text} (optional)", q.options, index=None,
                                      placeholder=words.NOT_SAY, key=f"ballot-{rnd.id}-{q.id}")
                   for q in questions}
        sent = st.form_submit_button(SEND_VOTE, type="primary")
    if not sent:
        return
    about = about_you.AboutYou(band, {k: v for k, v in answers.items() if v}, consent)
    try:
        if not about.consent and not about_you.is_empty(about):
            raise ValidationError("your vote was not counted yet", [words.ABOUT_YOU_NO_CONSENT])
        counted = rounds.cast(store, rnd.id, ticked, session_id=session_id(),
                              lsoa21_code=place_of(postcode), about=about, questions=questions)
    except REFUSED as exc:
        show_problems(exc)
        return
    st.session_state[FLASH] = ("Thank you: your vote has been counted." if counted else
                               "You have voted in this round already: your first vote counts.")
    st.rerun()


def enter_ballots(rnd: rounds.Round, user) -> None:  # noqa: ANN001
    """Paper or workshop ballots: how many ballots chose exactly these options."""
    gen = st.session_state.get(f"batch-gen-{rnd.id}", 0)  # a new number: an empty form
    with st.expander("Enter paper or workshop ballots", expanded=gen > 0):
        labels = {o.id: option_text(o) for o in rnd.options}
        chosen = st.multiselect("The options ticked on these ballots", list(labels),
                                format_func=labels.get, key=f"batch-{rnd.id}-{gen}-choices")
        count = int(st.number_input("How many ballots ticked exactly these", 1, rounds.MAX_BATCH, 1,
                                    key=f"batch-{rnd.id}-{gen}-count"))
        postcode = st.text_input("Their postcode, if the ballots give one (the same for all)",
                                 key=f"batch-{rnd.id}-{gen}-postcode")
        source = st.radio("Where they were filled in", ["workshop", "paper"], horizontal=True,
                          format_func={"workshop": "At a workshop", "paper": "On paper"}.get,
                          key=f"batch-{rnd.id}-{gen}-source")
        consent = st.checkbox(CONSENT, key=f"batch-{rnd.id}-{gen}-consent")
        if st.button("Save these ballots", key=f"batch-{rnd.id}-save"):
            form = f"batch-{rnd.id}"
            try:
                ballot = rounds.PaperBallot(tuple(chosen), place_of(postcode))
                ids = rounds.submit_batch(user_store(), user, rnd.id, [ballot] * count,
                                          source=source, consent=consent,
                                          submission_key=submission_key(form))
            except REFUSED as exc:
                show_problems(exc)
                return
            forget_submission(form)
            st.session_state[f"batch-gen-{rnd.id}"] = gen + 1
            st.session_state[FLASH] = f"Saved {len(ids)} {source} ballot(s) for round {rnd.id}."
            st.rerun()


def count_text(value: object) -> str:
    return disclosure.show(value)


def breakdown_table(frame: pd.DataFrame, rnd: rounds.Round, first: str) -> pd.DataFrame:
    out = pd.DataFrame({first: frame.index})
    for o in rnd.options:
        out[o.label] = frame[o.id].map(count_text).to_numpy()
    out["All votes"] = frame["all_options"].map(count_text).to_numpy()
    return out


def show_results(rnd: rounds.Round, user) -> None:  # noqa: ANN001
    threshold = load_settings().suppress_below
    store = user_store()
    res = rounds.results(rnd, rounds.tally(store, rnd.id), read(heard.area_frame, lsoas=list(rnd.lsoas)),
                         threshold)
    b = res.breakdowns
    st.subheader(f"Results of round {rnd.id}", anchor=False)
    voted = "fewer than the threshold" if b.ballots is None else f"{b.ballots:,}"
    st.markdown(f"People who voted: **{voted}** ({rounds.period_words(rnd.opens_on, rnd.last_day)}).")
    table = res.table()
    shown = pd.DataFrame({"Option": table["option"], "Votes": table["votes"].map(count_text)})
    if rnd.kind == "budget":
        shown["Cost"] = table["cost"].map(money)
        shown["Equal Shares"] = table["equal_shares"].map({True: "Funded", False: "Not funded"})
        shown["Most votes"] = table["most_votes"].map({True: "Funded", False: "Not funded"})
    st.table(shown, hide_index=True)
    if rnd.kind == "budget":
        mes, greedy = res.equal_shares or [], res.most_votes or []
        st.markdown(f"**Equal Shares funds:** {escape_markdown(', '.join(rnd.option(p).label for p in mes) or 'nothing')} "
                    f"({money(res.spent(mes))} of {money(rnd.budget)}).")
        st.markdown(f"**Most votes funds:** {escape_markdown(', '.join(rnd.option(p).label for p in greedy) or 'nothing')} "
                    f"({money(res.spent(greedy))} of {money(rnd.budget)}).")
        st.markdown(escape_markdown(res.difference() or ""))
        st.caption(rounds.METHOD)
    rule = disclosure.rule_text(threshold)
    st.markdown("**Votes by ward**")
    st.table(breakdown_table(b.by_ward, rnd, "Ward"), hide_index=True)
    st.markdown("**Votes by deprivation decile** (1 = most deprived tenth of areas in England)")
    st.table(breakdown_table(b.by_decile, rnd, "Decile"), hide_index=True)
    st.caption(f"Source: ballots in needsmap; wards (ONS) and deprivation deciles (IoD2025, MHCLG) "
               f"from each voter's postcode; '{rounds.UNKNOWN}' = no postcode given. {rule}")
    if not user.can(rounds.PERMISSION):
        return
    problems = rounds.weighting_problems(res)
    if problems:
        st.caption("Not available as a community weighting: " + "; ".join(problems) + ".")
        return
    with st.expander("Keep this result as a community weighting"):
        st.markdown("Weights by need category: " + escape_markdown(
            "; ".join(f"{taxonomy.label(c)} {w:.0%}" for c, w in rounds.category_weights(res).items())))
        name = st.text_input("Name", key=f"weighting-{rnd.id}-name",
                             placeholder="For example: Stretford residents, March 2027")
        voters = st.text_input("Who voted, in words", key=f"weighting-{rnd.id}-voters",
                               value=f"people in {rnd.area_name}")
        if st.button("Save the community weighting", key=f"weighting-{rnd.id}-save"):
            try:
                rounds.save_weighting(store, user, res, name, voters)
            except REFUSED as exc:
                show_problems(exc)
                return
            st.session_state[FLASH] = (f"Saved the community weighting '{name.strip()}': the Gaps "
                                       "page, the commissioning pack and the CLI can apply it.")
            st.rerun()


def show_round(rnd: rounds.Round, user, questions: list[about_you.Question]) -> None:  # noqa: ANN001
    st.subheader(f"{rnd.question}", anchor=False)
    status = rnd.refusal()
    st.caption(f"Round {rnd.id} for {rnd.area_name}: "
               + (status[:1].upper() + status[1:] + "." if status else
                  f"open until {rounds.day_words(rnd.closes_on)}."))
    gapped = [o for o in rnd.options if o.evidence]
    if gapped:
        with st.expander("The evidence behind the gaps"):
            for o in gapped:
                ev = o.evidence or {}
                top = ev.get("largest_gap") or {}
                show_literal(f"{o.label}: {ev.get('high_need_low_provision', 0)} of "
                             f"{ev.get('ranked_small_areas', 0)} small areas with high need and "
                             f"low provision. " + (f"Largest gap: {top.get('name')}: {top.get('why')}."
                                                  if top else str(ev.get('note', ''))))
    if status is None:
        vote(rnd, questions)
        if user.can("facilitate"):
            enter_ballots(rnd, user)
        if user.can(rounds.PERMISSION) and st.button("Close this round now", key=f"close-{rnd.id}"):
            try:
                rounds.close_round(user_store(), user, rnd.id)
            except REFUSED as exc:
                show_problems(exc)
                return
            st.session_state[FLASH] = f"Round {rnd.id} is closed: its results are below."
            st.rerun()
    elif rnd.finished():
        show_results(rnd, user)


st.title("Priorities")
st.markdown("Say what should come first in your area. Each round asks one question; you can vote "
            "once in each. Commissioners see the results beside the evidence on the Gaps page.")
user = current_user()
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)
area = choose_area()
if area is None:
    st.stop()
if user.can(rounds.PERMISSION):
    start_round(area, user)
found = rounds.rounds(user_store(), lsoas=area.lsoas)
if not found:
    st.markdown(f"No priorities round has been held in {escape_markdown(area.name)} yet.")
questions = about_you.load_questions(load_settings().about_you_questions)
for rnd in found:
    with st.container(border=True):
        show_round(rnd, user, questions)
