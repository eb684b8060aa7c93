"""Closing the loop in the user store (both backends): references that cannot be guessed,
decisions linked to reports with their stages logged, the emails each stage queues, "did it
help?" answers, and the Track view that shows one report and nothing of anyone else's."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.store.users import UserStore
from needsmap.voice import decisions, loop, needs
from needsmap.voice.accounts import PermissionDenied, User

MOD = User("mod", "moderator", "Mo")
COM = User("com", "commissioner", "Cam")
PLACE = needs.Location(-2.3160, 53.4460, "E01006074", "E08000009")
LAD = "E08000009"


def report(store: UserStore, settings: Settings, contact: str | None, text: str = "No food bank",
           approve: bool = True) -> tuple[int, str]:
    refs: list[str] = []
    r = needs.NeedReport("food", text, PLACE, contact=contact)
    nid = needs.submit(store, r, session_id=text, also=lambda con, i: refs.append(
        loop.on_report(con, i, r.contact, r.category, settings)))
    if approve:
        needs.moderate(store, MOD, "need", nid, "approve")
    return nid, refs[-1]


def decision(status: str = "considering", **kw: object) -> decisions.Decision:
    values = dict(lad_code=LAD, area_level="lsoa21", area_code="E01006074", category="food",
                  status=status, decided_on=date.today(), action="A weekly food pantry")
    values.update(kw)
    return decisions.Decision(**values)  # type: ignore[arg-type]


def outbox(store: UserStore) -> list[tuple[str, str, str]]:
    return store.read().execute("SELECT recipient, subject, body FROM outbox ORDER BY id").fetchall()


def test_references_are_the_number_and_a_random_check_part(user_store: UserStore,
                                                           user_settings: Settings) -> None:
    nid, ref = report(user_store, user_settings, None)
    number, code = loop.parse_reference(ref)
    assert number == nid and len(code) == loop.CHECK_LENGTH and set(code) <= set(loop.CHECK_ALPHABET)
    assert loop.find_report(user_store, ref) == nid
    assert loop.find_report(user_store, ref.lower().replace("-", " ")) == nid
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert loop.find_report(user_store, f"{nid}-{wrong}") is None
    with pytest.raises(ValidationError, match="123-KD7QPM"):
        loop.parse_reference(str(nid))  # the number alone names nothing
    others = {report(user_store, user_settings, None, f"need {i}")[1].split("-")[1] for i in range(20)}
    assert len(others) == 20  # random, not a sequence


def test_a_report_sent_twice_keeps_one_reference_and_one_confirmation(user_store: UserStore,
                                                                     user_settings: Settings) -> None:
    r = needs.NeedReport("food", "Twice", PLACE, contact="twice@example.org")
    refs = [needs.submit(user_store, r, session_id="s", submission_key="k",
                         also=lambda con, i: refs_out.append(loop.on_report(con, i, r.contact, "food",
                                                                             user_settings)))
            for refs_out in ([], [])]
    assert refs[0] == refs[1]
    assert len(outbox(user_store)) == 1
    assert user_store.read().execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 1


def test_confirmation_only_for_an_email_not_a_phone_number(user_store: UserStore,
                                                           user_settings: Settings) -> None:
    report(user_store, user_settings, "0161 555 0199")
    assert outbox(user_store) == []
    _, ref = report(user_store, user_settings, "me@example.org", "with email")
    (to, subject, body), = outbox(user_store)
    assert to == "me@example.org" and ref in subject and ref in body
    assert "unsubscribe=" in body


def test_a_linked_decision_moves_through_its_stages_each_logged_and_mailed(
        user_store: UserStore, user_settings: Settings) -> None:
    mine, _ = report(user_store, user_settings, "me@example.org")
    other, _ = report(user_store, user_settings, "other@example.org", "unlinked report")
    did = loop.record(user_store, COM, decision(), loop.Links((mine,), (7,)), {"gap_score": 0.4},
                      user_settings)
    loop.move(user_store, COM, did, "commissioned", date.today(), user_settings)
    loop.move(user_store, COM, did, "in_place", date.today(), user_settings)
    assert list(loop.stages(user_store, did)["stage"]) == ["considering", "commissioned", "in_place"]
    log = user_store.read().execute(
        "SELECT before_text, after_text, moderator FROM moderation_log WHERE item_type = 'decision' "
        "ORDER BY id").fetchall()
    assert log == [(None, "considering", "com"), ("considering", "commissioned", "com"),
                   ("commissioned", "in_place", "com")]
    now = decisions.current(user_store, LAD)
    assert list(now["status"]) == ["in_place"]  # the map and pack show the latest stage
    links = loop.links(user_store, [did])
    assert sorted(links["need_id"].dropna().astype(int)) == [mine]
    assert sorted(links["round_option_id"].dropna().astype(int)) == [7]
    mails = [m for m in outbox(user_store) if m[0] == "me@example.org"]
    assert [m[1] for m in mails] == [
        "Your report has been received (reference " + loop.reference(user_store, mine) + ")",
        "Update on the need you reported: being considered",
        "Update on the need you reported: commissioned",
        "Update on the need you reported: in place"]
    assert "Did it help?" in mails[-1][2] and "Did it help?" not in mails[-2][2]
    assert [m for m in outbox(user_store) if m[0] == "other@example.org"][1:] == []
    assert loop.frozen_evidence(user_store, [did]) == {did: {"gap_score": 0.4}}


def test_not_taken_forward_needs_a_reason_and_stages_need_a_commissioner(
        user_store: UserStore, user_settings: Settings) -> None:
    did = loop.record(user_store, COM, decision(), loop.Links(), {}, user_settings)
    with pytest.raises(ValidationError) as err:
        loop.move(user_store, COM, did, "declined", date.today(), user_settings)
    assert "say why" in " ".join(err.value.problems)
    with pytest.raises(ValidationError):
        loop.move(user_store, COM, did, "in_place", date.today() + timedelta(days=2), user_settings)
    with pytest.raises(PermissionDenied):
        loop.move(user_store, MOD, did, "in_place", date.today(), user_settings)
    with pytest.raises(ValidationError, match="already"):
        loop.move(user_store, COM, did, "considering", date.today(), user_settings)
    loop.move(user_store, COM, did, "declined", date.today(), user_settings, reason="No budget <b>")
    assert decisions.current(user_store, LAD)["reason"].tolist() == ["No budget <b>"]


def test_only_approved_reports_can_be_linked(user_store: UserStore, user_settings: Settings) -> None:
    pending, _ = report(user_store, user_settings, None, "pending one", approve=False)
    with pytest.raises(ValidationError, match="not saved"):
        loop.record(user_store, COM, decision(), loop.Links((pending,)), {}, user_settings)
    assert decisions.current(user_store, LAD).empty  # nothing half-saved


def test_did_it_help_once_in_place_one_answer_per_person(user_store: UserStore,
                                                         user_settings: Settings) -> None:
    mine, _ = report(user_store, user_settings, "me@example.org")
    did = loop.record(user_store, COM, decision(), loop.Links((mine,)), {}, user_settings)
    me = loop.respondent_for_need(mine)
    with pytest.raises(ValidationError, match="not in place"):
        loop.answer(user_store, decision_id=did, need_id=mine, respondent=me, answer="yes")
    loop.move(user_store, COM, did, "in_place", date.today(), user_settings)
    loop.answer(user_store, decision_id=did, need_id=mine, respondent=me, answer="yes")
    token = user_store.read().execute("SELECT token FROM subscriptions").fetchone()[0]
    who, need = loop.respondent_for_token(user_store, token)
    assert (who, need) == (me, mine)  # the email link and the reference are the same person
    loop.answer(user_store, decision_id=did, need_id=need, respondent=who, answer="partly",
                comment="Better, but only open on Tuesdays")
    answers = loop.feedback(user_store, [did])
    assert answers[["answer", "comment"]].values.tolist() == [["partly", "Better, but only open on Tuesdays"]]
    assert loop.answer_counts(answers, did) == {"yes": 0, "partly": 1, "no": 0}
    with pytest.raises(ValidationError):
        loop.answer(user_store, decision_id=did, need_id=mine, respondent=me, answer="maybe")


def test_answers_are_counted_with_suppression_for_everyone() -> None:
    assert loop.answers_in_words({"yes": 0, "partly": 0, "no": 0}, 10) == "No answers yet."
    assert "too few" in loop.answers_in_words({"yes": 3, "partly": 1, "no": 0}, 10)
    assert loop.answers_in_words({"yes": 12, "partly": 3, "no": 0}, 10) == \
        "Did it help? Yes 12, partly fewer than 10, no 0 (of 15 answers)."
    assert loop.answers_in_words({"yes": 3, "partly": 1, "no": 0}, None) == \
        "Did it help? Yes 3, partly 1, no 0 (of 4 answers)."


def test_track_shows_one_report_and_nothing_of_anyone_elses(user_store: UserStore,
                                                           user_settings: Settings) -> None:
    mine, ref = report(user_store, user_settings, "me@example.org", "My private words")
    other, _ = report(user_store, user_settings, "other@example.org", "Someone else's words")
    did = loop.record(user_store, COM, decision(), loop.Links((mine, other)), {}, user_settings)
    loop.move(user_store, COM, did, "in_place", date.today(), user_settings)
    loop.answer(user_store, decision_id=did, need_id=other, respondent=loop.respondent_for_need(other),
                answer="no", comment="Did nothing for me")
    seen = loop.track(user_store, loop.find_report(user_store, ref), loop.respondent_for_need(mine))
    assert seen is not None and seen.reference == ref and seen.category == "food"
    assert [(d["id"], d["stage"]) for d in seen.decisions] == [(did, "in_place")]
    assert seen.answered == {}  # the other resident's answer is theirs
    text = repr(seen)
    assert seen.need_id == mine
    for private in ("other@example.org", "me@example.org", "Someone else", "Did nothing", "My private"):
        assert private not in text


def test_unsubscribe_stops_the_next_stage_emails(user_store: UserStore, user_settings: Settings) -> None:
    mine, _ = report(user_store, user_settings, "me@example.org")
    did = loop.record(user_store, COM, decision(), loop.Links((mine,)), {}, user_settings)
    token = user_store.read().execute("SELECT token FROM subscriptions").fetchone()[0]
    assert loop.unsubscribe(user_store, token) and loop.unsubscribe(user_store, token)
    assert not loop.unsubscribe(user_store, "not-a-token")
    loop.move(user_store, COM, did, "in_place", date.today(), user_settings)
    assert len(outbox(user_store)) == 2  # the confirmation and "being considered" only


def test_affects_me_too_people_who_leave_an_email_are_told(user_store: UserStore,
                                                          user_settings: Settings) -> None:
    mine, _ = report(user_store, user_settings, None)
    with pytest.raises(ValidationError):
        loop.subscribe(user_store, mine, "not an email")
    loop.subscribe(user_store, mine, "neighbour@example.org")
    loop.subscribe(user_store, mine, "neighbour@example.org")  # once
    loop.record(user_store, COM, decision(), loop.Links((mine,)), {}, user_settings)
    assert [m[0] for m in outbox(user_store)] == ["neighbour@example.org"]


def test_erasing_a_report_takes_its_reference_emails_and_messages(user_store: UserStore,
                                                                  user_settings: Settings) -> None:
    from needsmap.voice import resident_rights

    mine, ref = report(user_store, user_settings, "me@example.org")
    other, _ = report(user_store, user_settings, "other@example.org", "another report")
    did = loop.record(user_store, COM, decision(), loop.Links((mine, other)), {}, user_settings)
    held = resident_rights.export(user_store, MOD, mine)
    assert [u["email"] for u in held["emails_for_updates"]] == ["me@example.org"]
    resident_rights.erase(user_store, MOD, mine)
    assert loop.find_report(user_store, ref) is None
    cur = user_store.read()
    assert cur.execute("SELECT DISTINCT email FROM subscriptions").fetchall() == [("other@example.org",)]
    assert {r[0] for r in cur.execute("SELECT recipient FROM outbox").fetchall()} == {"other@example.org"}
    assert loop.links(user_store, [did])["need_id"].tolist() == [other]


def test_emails_for_updates_go_with_the_contact_details(user_store: UserStore,
                                                        user_settings: Settings) -> None:
    from datetime import datetime

    from needsmap.voice import retention

    report(user_store, user_settings, "me@example.org")
    rule = retention.Rule(30, 30)
    retention.apply(user_store, rule, now=datetime.now() + timedelta(days=10))
    assert user_store.read().execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 1
    retention.apply(user_store, rule, now=datetime.now() + timedelta(days=40))
    cur = user_store.read()
    assert cur.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 0
    assert cur.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
