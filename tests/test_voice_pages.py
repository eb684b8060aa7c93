"""The Residents pages through streamlit.testing (no browser): messages, roles, sign-in."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from needsmap.errors import StoreUnavailable, ValidationError
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from dashboard import common
from needsmap.voice import accounts, browsers, needs
from needsmap.voice.locate import locate_postcode

from conftest import make_settings, trafford_points
from dashboard_support import store_with_services

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
APP = str(DASHBOARD / "app.py")
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def store(trafford_store, tmp_path_factory):
    return store_with_services(trafford_store.store_path, tmp_path_factory.mktemp("voice"))


@pytest.fixture(autouse=True)
def fresh_limits():
    """Each test starts with the process's throttles empty (they outlive an AppTest)."""
    common.rate_limiter.clear()
    yield


@pytest.fixture
def users(tmp_path, mirror, store, monkeypatch):
    """A fresh user store with a moderator, a commissioner and a community group."""
    monkeypatch.setenv("NEEDSMAP_STORE", str(store))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    s = open_user_store(make_settings(tmp_path, mirror))
    accounts.create_account(s, "mod", PASSWORD, "moderator", "Mo Derator")
    accounts.create_account(s, "com", PASSWORD, "commissioner", "Cam Missioner")
    accounts.create_account(s, "grp", PASSWORD, "community_group", "Gee", "Stretford Youth Forum")
    yield s
    s.close()


def app(page: str | None = None, signed_in: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if signed_in:
        at.session_state["signed_in_username"] = signed_in
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def widget(elements, label: str):  # noqa: ANN001, ANN201
    return next(w for w in elements if w.label.startswith(label))


def shown(at: AppTest) -> str:
    """The page's text as a reader sees it (character references decoded, word joiners gone)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [s.value for s in at.success]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [t.value for t in at.title]
    parts += [re.sub(r"<[^>]+>", "", h.proto.body) for h in at.get("html")]  # show_literal
    return html.unescape("\n".join(parts)).replace("\u2060", "")


def fill_report(at: AppTest, *, postcode: str = "", category: str | None = "youth",
                description: str = "Nowhere for teenagers to go", contact: str = "") -> None:
    widget(at.text_input, "Postcode").set_value(postcode)
    widget(at.selectbox, "What kind of need").set_value(category)
    widget(at.text_area, "Describe the need").set_value(description)
    widget(at.text_input, "Your email or phone").set_value(contact)


def send(at: AppTest) -> None:
    widget(at.button, "Send report").click().run()
    assert not at.exception, at.exception


def count(users) -> int:  # noqa: ANN001
    return users.read().execute("SELECT count(*) FROM needs").fetchone()[0]


def test_a_resident_reports_by_postcode(users, store) -> None:
    postcode, lon, lat, lsoa = trafford_points(make_settings(Path(store).parent, None), 1)[0]
    at = app("views/report_need.py")
    assert "never show the exact spot" in shown(at) and "never shown on the map" in shown(at)
    fill_report(at, postcode=postcode.lower(), contact="jo@example.org")
    widget(at.number_input, "How many people").set_value(12)
    widget(at.multiselect, "Which age groups").set_value(["young people (16-24)"])
    send(at)
    ref = re.search(r"your report has been received \(reference (1-[2-9A-Z]{6})\)", shown(at)).group(1)
    # the reference is the one kept, and the email given gets a confirmation with it
    assert users.read().execute("SELECT recipient, subject FROM outbox").fetchall() == [
        ("jo@example.org", f"Your report has been received (reference {ref})")]
    row = users.read().execute(
        "SELECT category, status, lon, lat, postcode, lsoa21_code, contact, people_affected, "
        "age_groups FROM needs").fetchone()
    assert row == ("youth", "pending", lon, lat, postcode, lsoa, "jo@example.org", 12,
                   ["young people (16-24)"])
    widget(at.button, "Report another need").click().run()
    assert widget(at.text_area, "Describe the need").value == ""


def _full_width(text: str) -> str:
    """As some phone and East Asian keyboards type it: 'M32 9AF' -> 'Ｍ３２　９ＡＦ'."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in text)


@pytest.mark.parametrize("spelling", [lambda p: f"   {p.lower()}    ", _full_width])
def test_a_pasted_or_full_width_postcode_is_understood(users, store, spelling) -> None:
    """A paste longer than a postcode (spaces around it) or full-width letters is normalised,
    not emptied and then called empty."""
    postcode = trafford_points(make_settings(Path(store).parent, None), 1)[0][0]
    at = app("views/report_need.py")
    # the browser drops a paste longer than max_chars, leaving the field empty
    assert not widget(at.text_input, "Postcode of the place").max_chars
    fill_report(at, postcode=spelling(postcode), category="food", description="No food bank")
    send(at)
    assert "your report has been received" in shown(at), shown(at)
    assert users.read().execute("SELECT postcode FROM needs").fetchone() == (postcode,)


@pytest.mark.parametrize("change, message", [
    ({"description": "   "}, "describe the need: the description is empty"),
    ({"postcode": "!!!"}, "'!!!' is not a postcode: type one like M32 9AF"),
    ({"postcode": "my postcode is M32 9AF thanks"}, "is too long for a postcode (29 characters)"),
    ({"description": "x" * 2001}, "make the description shorter: it has 2,001 characters"),
    ({"postcode": "M1 1AE"}, "M1 1AE is outside the area this map covers (Trafford)"),
    ({"postcode": "QQ1 1QQ"}, "we could not find the postcode QQ1 1QQ"),
    ({"category": None}, "choose what kind of need it is"),
    ({"contact": "c" * 201}, "make your email or phone number shorter: it can have up to 200"),
])
def test_bad_reports_get_a_clear_message_and_keep_the_text(users, store, change, message) -> None:
    postcode = trafford_points(make_settings(Path(store).parent, None), 1)[0][0]
    at = app("views/report_need.py")
    values = dict(postcode=postcode, category="food", description="No food bank at weekends")
    values.update(change)
    fill_report(at, **values)
    send(at)
    assert message in shown(at)
    assert widget(at.text_area, "Describe the need").value == values["description"]
    assert count(users) == 0


def _lost_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str | None]:
    """Make ``needs.<name>`` save, then lose the connection before answering, the first time;
    the submission keys it was given, in order."""
    real, keys = getattr(needs, name), []

    def flaky(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        keys.append(kwargs.get("submission_key"))
        saved = real(*args, **kwargs)
        if len(keys) == 1:
            raise StoreUnavailable(StoreUnavailable.MAYBE_SAVED)
        return saved

    monkeypatch.setattr(needs, name, flaky)
    return keys


def test_a_report_sent_again_after_a_lost_connection_is_saved_once(users, store, monkeypatch) -> None:
    keys = _lost_once(monkeypatch, "submit")
    postcode = trafford_points(make_settings(Path(store).parent, None), 1)[0][0]
    at = app("views/report_need.py")
    fill_report(at, postcode=postcode)
    send(at)
    assert "The connection to the database was lost while saving" in shown(at)
    assert widget(at.text_area, "Describe the need").value == "Nowhere for teenagers to go"
    send(at)  # the resident tries again, as the message suggests
    assert re.search(r"your report has been received \(reference 1-[2-9A-Z]{6}\)", shown(at))
    assert count(users) == 1 and keys[0] is not None and keys == [keys[0]] * 2
    widget(at.button, "Report another need").click().run()
    fill_report(at, postcode=postcode, description="No youth club on Fridays")
    send(at)
    assert count(users) == 2 and keys[2] != keys[0]  # a new form is a new report


def test_reports_per_session_are_limited(users, store, monkeypatch) -> None:
    monkeypatch.setenv("NEEDSMAP_REPORT_LIMIT", "2")
    postcode = trafford_points(make_settings(Path(store).parent, None), 1)[0][0]
    at = app("views/report_need.py")
    for i in range(3):
        if i:
            widget(at.button, "Report another need").click().run()
        fill_report(at, postcode=postcode, description=f"need number {i}")
        send(at)
    assert "Please wait a little before sending another" in shown(at)
    assert widget(at.text_area, "Describe the need").value == "need number 2"
    assert count(users) == 2


def test_the_app_wide_cap_is_worded_as_the_apps_not_the_residents(users, store, monkeypatch) -> None:
    """A resident who sent nothing is never told they "have sent several reports"."""
    monkeypatch.setenv("NEEDSMAP_REPORT_LIMIT_ALL", "1")
    postcode = trafford_points(make_settings(Path(store).parent, None), 1)[0][0]
    first, second = app("views/report_need.py"), app("views/report_need.py")
    fill_report(first, postcode=postcode, description="the one the app takes")
    send(first)
    fill_report(second, postcode=postcode, description="a first report from someone else")
    send(second)
    assert "You have sent several reports" not in shown(second)
    assert "Many reports have reached us" in shown(second)
    assert widget(second.text_area, "Describe the need").value == "a first report from someone else"
    assert count(users) == 1


@pytest.mark.parametrize("page, who", [("moderation.py", None), ("moderation.py", "com"),
                                       ("moderation.py", "grp"), ("facilitator.py", None)])
def test_protected_pages_check_the_role_on_the_server(users, store, page, who) -> None:
    """Opened directly (as if the navigation had been bypassed): nothing but a refusal."""
    place = locate_postcode(StoreReader(store).cursor(),
                            trafford_points(make_settings(Path(store).parent, None), 1)[0][0])
    needs.submit(users, needs.NeedReport("food", "secret pending text", place,
                                         contact="jo@example.org"), session_id="s")
    at = AppTest.from_file(str(DASHBOARD / "views" / page), default_timeout=60)
    if who:
        at.session_state["signed_in_username"] = who
    at.run()
    assert not at.exception, at.exception
    assert "This page is for" in at.warning[0].value
    assert "secret pending text" not in shown(at) and not at.button and not at.text_area


def test_moderator_approves_and_counts_depend_on_the_viewer(users, store) -> None:
    place = locate_postcode(StoreReader(store).cursor(),
                            trafford_points(make_settings(Path(store).parent, None), 1)[0][0])
    first = needs.submit(users, needs.NeedReport("food", "Call me on 07700 900123", place),
                         session_id="a")
    needs.submit(users, needs.NeedReport("housing", "Damp flats", place), session_id="b")
    at = app("views/moderation.py", signed_in="mod")
    assert "Waiting (2)" in [t.label for t in at.tabs]
    assert "suggests a version without it" in shown(at)
    widget(at.text_area, "Text as it will be published").set_value(
        widget(at.text_area, "Text as it will be published").value)
    widget(at.button, "Save and approve").click().run()
    assert f"Need {first} edited and approved." in shown(at)
    assert users.read().execute("SELECT description, status FROM needs WHERE id = ?",
                                [first]).fetchone() == ("Call me on [phone removed]", "approved")
    widget(at.button, "Approve as it is").click().run()
    assert "Waiting (0)" in [t.label for t in at.tabs]
    log = at.dataframe[0].value
    assert list(log["action"]) == ["approve", "approve", "edit"] and set(log["moderator"]) == {"mod"}

    public = app()
    counts = public.dataframe[1].value
    assert set(counts["reports"]) == {"hidden to protect residents"}
    assert "Every approved need (commissioners and analysts)" not in shown(public)
    commissioner = app(signed_in="com")
    assert set(commissioner.dataframe[1].value["reports"]) == {"1"}
    detail = commissioner.dataframe[2].value
    assert set(detail["description"]) == {"Call me on [phone removed]", "Damp flats"}
    assert not {"lon", "lat", "postcode", "contact"} & set(detail.columns)


def test_wrong_passwords_elsewhere_never_lock_the_owner_out(users, store, monkeypatch) -> None:
    """Ten wrong passwords from fresh cookie-less sessions (no address known: a reload is a new
    session) share one count, so reloading gains the attacker nothing; the owner, whose browser
    sends its cookie, is not locked out, and correct sign-ins never count toward a limit."""
    told = []
    for _ in range(10):
        attacker = app("views/signin.py")
        widget(attacker.text_input, "Username").set_value("mod")
        widget(attacker.text_input, "Password").set_value("a wrong guess")
        widget(attacker.button, "Sign in").click().run()
        told.append("do not match an account" in shown(attacker))
    assert told == [True] * 5 + [False] * 5
    assert "Reload the page (allowing cookies for this site)" in shown(attacker)
    key = browsers.signing_key(users, make_settings(Path(store).parent, None))
    monkeypatch.setattr(common, "request_cookie", lambda: browsers.sign(key, browsers.new_token()))
    owner = app("views/signin.py")
    for _ in range(7):
        widget(owner.text_input, "Username").set_value("mod")
        widget(owner.text_input, "Password").set_value(PASSWORD)
        widget(owner.button, "Sign in").click().run()
        assert owner.title[0].value == "Your account", shown(owner)
        widget(owner.button, "Sign out").click().run()


def test_local_sign_in_and_its_throttle(users, store) -> None:
    at = app("views/signin.py")
    assert "You do **not** need an account" in shown(at)
    widget(at.text_input, "Username").set_value("mod")
    widget(at.text_input, "Password").set_value("wrong password")
    widget(at.button, "Sign in").click().run()
    assert "do not match an account" in shown(at)
    widget(at.text_input, "Password").set_value(PASSWORD)
    widget(at.button, "Sign in").click().run()
    assert at.title[0].value == "Your account"
    assert "signed in as **Mo Derator**, moderator" in shown(at)
    widget(at.button, "Sign out").click().run()
    assert at.title[0].value == "Sign in"
    for _ in range(5):
        widget(at.text_input, "Password").set_value("still wrong")
        widget(at.button, "Sign in").click().run()
    widget(at.text_input, "Password").set_value(PASSWORD)
    widget(at.button, "Sign in").click().run()
    assert "Too many sign-in attempts" in shown(at) and at.title[0].value == "Sign in"


OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "needsmap", "client_secret": "secret",
        "server_metadata_url": "https://id.example/.well-known/openid-configuration"}


def test_single_sign_on_maps_the_email_to_a_role(users, store) -> None:
    accounts.create_account(users, "ann@council.example", None, "moderator", "Ann")
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": False}
    at.run()
    at.switch_page("views/signin.py").run()
    assert [b.label for b in at.button][0] == "Sign in with your organisation's account"
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "Ann@Council.example", "name": "Ann"}
    at.run()
    at.switch_page("views/moderation.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Moderation"
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "stranger@elsewhere.example"}
    at.run()
    at.switch_page("views/signin.py").run()
    assert "has no role here yet" in shown(at)


def test_affects_me_too_and_community_notes(users, store, monkeypatch) -> None:
    postcode, _, _, lsoa = trafford_points(make_settings(Path(store).parent, None), 1)[0]
    place = locate_postcode(StoreReader(store).cursor(), postcode)
    ref = needs.submit(users, needs.NeedReport("transport", "The 263 bus no longer runs", place),
                       session_id="a")
    needs.moderate(users, accounts.User("mod", "moderator"), "need", ref, "approve")
    ward = StoreReader(store).cursor().execute(
        "SELECT ward_code FROM lsoa21_lookup WHERE lsoa21_code = ?", [lsoa]).fetchone()[0]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["notes_ward"] = ward
    at.run()
    at.switch_page("views/notes.py").run()
    assert "The 263 bus no longer runs" in shown(at)
    assert "Sign in with your group's account" in shown(at)
    widget(at.button, "This affects me too").click().run()
    assert "you have been counted" in shown(at)
    widget(at.button, "This affects me too").click().run()
    assert "already said this need affects you" in shown(at)
    assert needs.approved_counts(users)[0][3] == 1
    # and asks to be told what is decided (the email is kept for the updates only)
    widget(at.text_input, "Your email address").set_value("not an email")
    widget(at.button, "Email me updates").click().run()
    assert "Give an email address" in shown(at)
    widget(at.text_input, "Your email address").set_value("neighbour@example.org")
    widget(at.button, "Email me updates").click().run()
    assert "we will email you when a decision" in shown(at)
    assert users.read().execute("SELECT email, need_id, kind FROM subscriptions").fetchall() == [
        ("neighbour@example.org", ref, "supporter")]

    group = AppTest.from_file(APP, default_timeout=60)
    group.session_state["signed_in_username"] = "grp"
    group.session_state["notes_ward"] = ward
    group.run()
    group.switch_page("views/notes.py").run()
    widget(group.text_area, "Note").set_value("x" * 2001)
    widget(group.button, "Send note").click().run()
    assert "the note is limited to 2,000 characters" in shown(group)
    assert widget(group.text_area, "Note").value == "x" * 2001  # kept to shorten
    widget(group.text_area, "Note").set_value("No youth provision since the centre closed")
    widget(group.text_input, "Link to evidence").set_value("javascript:alert(1)")
    widget(group.button, "Send note").click().run()
    assert "must start with https" in shown(group)
    widget(group.text_input, "Link to evidence").set_value("https://example.org/report")
    keys = _lost_once(monkeypatch, "annotate")
    widget(group.button, "Send note").click().run()
    assert "may or may not have been saved" in shown(group)
    widget(group.button, "Send note").click().run()
    assert "once a moderator has checked it" in shown(group)
    assert keys[0] is not None and keys == [keys[0]] * 2
    [item] = needs.pending(users, accounts.User("mod", "moderator"))
    assert (item["item_type"], item["area_code"], item["kind"]) == (
        "annotation", ward, "Stretford Youth Forum")


def test_a_long_list_of_problems_is_summarised() -> None:
    """A file with 2,001 bad postcodes gives the first ten and a count, not a 2,001-line alert."""
    from dashboard.common import problem_lines

    problems = [f"w.csv row {i}, column 'postcode': not found" for i in range(2, 2003)]
    lines = problem_lines(ValidationError("nothing was saved: w.csv has 2,001 problem(s)", problems))
    assert len(lines) == 12 and "row 11," in lines[10] and "row 12," not in "".join(lines)
    assert lines[-1] == "- and 1,991 more: fix these first, then try again."
    assert len(problem_lines(ValidationError("refused", problems[:10]))) == 11


GM_ICB = "E54000057"


@pytest.mark.slow
def test_notes_and_area_pages_cover_every_authority_of_an_icb(england_build, tmp_path, monkeypatch) -> None:
    """On NHS Greater Manchester the Notes page opens on the Trafford ward with an approved
    report (its first authority is Bolton), naming each ward's authority; the Area page offers
    the ICB as a whole and its wards in every authority."""
    england = england_build[1]
    cur = StoreReader(england.store_path).cursor()
    postcode, _, _, lsoa = trafford_points(england, 1)[0]
    users = open_user_store(make_settings(tmp_path, None))
    try:
        ref = needs.submit(users, needs.NeedReport("transport", "The 263 bus no longer runs",
                                                   locate_postcode(cur, postcode)), session_id="a")
        needs.moderate(users, accounts.User("mod", "moderator"), "need", ref, "approve")
    finally:
        users.close()
    ward, ward_name = cur.execute("SELECT ward_code, ward_name FROM lsoa21_lookup WHERE lsoa21_code = ?",
                                  [lsoa]).fetchone()
    monkeypatch.setenv("NEEDSMAP_STORE", str(england.store_path))
    monkeypatch.setenv("NEEDSMAP_USER_STORE", str(tmp_path / "user.duckdb"))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["area"] = GM_ICB
    at.switch_page("views/notes.py")
    at.run()
    assert not at.exception, at.exception
    picked = at.selectbox(key="notes_ward")
    assert picked.value == ward and f"{ward_name}, Trafford" in picked.options
    assert any(o.endswith(", Bolton") for o in picked.options)
    assert "The 263 bus no longer runs" in shown(at)
    at.switch_page("views/area.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="pick_area").value == GM_ICB  # remembered from the last page
    at.radio(key="pick_kind").set_value("whole").run()
    assert at.header[0].value == "NHS Greater Manchester Integrated Care Board (E54000057)"
    assert "1,702 small areas in 10 local authorities" in shown(at)
