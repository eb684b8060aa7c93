"""Residents' needs: validation, moderation, support, privacy rules and bulk entry."""

from __future__ import annotations

import pytest

from needsmap.config import Settings
from needsmap.errors import ValidationError
from needsmap.store import StoreReader
from needsmap.store.users import UserStore
from needsmap.voice import needs, privacy, workshop
from needsmap.voice.accounts import PermissionDenied, User, authenticate, create_account, require
from needsmap.voice.locate import locate_point

MODERATOR = User("mod", "moderator", "Mo")
GROUP = User("grp", "community_group", "Stretford Youth", group_name="Stretford Youth Forum")
# Stretford, Trafford (inside E01006074's neighbourhood); a point checked on the map.
STRETFORD = (-2.3160, 53.4460)


@pytest.fixture
def store(user_store: UserStore) -> UserStore:
    return user_store


@pytest.fixture
def place(trafford_store: Settings) -> needs.Location:
    return locate_point(StoreReader(trafford_store.store_path).cursor(), *STRETFORD)


def report(place: needs.Location, **kw: object) -> needs.NeedReport:
    base = dict(category="food", description="No food bank open at weekends", location=place)
    base.update(kw)
    return needs.NeedReport(**base)  # type: ignore[arg-type]


def test_point_is_placed_in_its_trafford_lsoa(place: needs.Location, trafford_store: Settings) -> None:
    assert place.lad_code == "E08000009" and place.lsoa21_code.startswith("E01")
    with pytest.raises(ValidationError, match="outside the area"):
        locate_point(StoreReader(trafford_store.store_path).cursor(), -1.8904, 52.4862)  # Birmingham


def test_bad_reports_are_refused_with_reasons(store: UserStore, place: needs.Location) -> None:
    for kw, words in (
        ({"description": "   "}, "empty"),
        ({"description": "x" * 2001}, "can have up to 2,000"),
        ({"category": "weather"}, "choose a category"),
        ({"people_affected": 0}, "from 1 to"),
        ({"age_groups": ("toddlers",)}, "choose age groups from the list"),
    ):
        with pytest.raises(ValidationError, match=words):
            needs.submit(store, report(place, **kw), session_id="s1")
    assert store.read().execute("SELECT count(*) FROM needs").fetchone()[0] == 0


def test_only_approved_needs_count_and_moderation_is_logged(store: UserStore, place: needs.Location) -> None:
    a = needs.submit(store, report(place, contact="jo@example.org"), session_id="s1")
    b = needs.submit(store, report(place, description="Call me on 07700 900123"), session_id="s2")
    assert needs.approved_counts(store) == []
    with pytest.raises(PermissionDenied):
        needs.moderate(store, GROUP, "need", a, "approve")
    needs.moderate(store, MODERATOR, "need", a, "approve")
    redacted = privacy.redact_contact_details("Call me on 07700 900123")
    needs.moderate(store, MODERATOR, "need", b, "edit", new_text=redacted)
    with pytest.raises(ValidationError, match="say why"):
        needs.moderate(store, MODERATOR, "need", b, "reject")
    needs.moderate(store, MODERATOR, "need", b, "reject", reason="duplicate of another report")
    assert needs.approved_counts(store) == [(place.lsoa21_code, "food", 1, 0)]
    log = store.read().execute(
        "SELECT moderator, item_id, action, before_text, after_text FROM moderation_log ORDER BY id"
    ).fetchall()
    assert [r[2] for r in log] == ["approve", "edit", "reject"]
    assert log[1][3] == "Call me on 07700 900123" and log[1][4] == "Call me on [phone removed]"


def test_a_report_sent_again_with_its_key_is_saved_once(store: UserStore, place: needs.Location) -> None:
    key = needs.new_submission_key()
    first = needs.submit(store, report(place), session_id="s1", submission_key=key)
    assert needs.submit(store, report(place), session_id="s1", submission_key=key) == first
    other = needs.submit(store, report(place), session_id="s1")  # a new form: a new report
    assert other != first
    note_key = needs.new_submission_key()
    notes = [needs.annotate(store, GROUP, area_level="ward", area_code="E05000829", body="No youth club",
                            submission_key=note_key) for _ in range(2)]
    assert notes[0] == notes[1]
    batch = [report(place, description=f"workshop row {i}") for i in range(3)]
    ids = workshop.submit_many(store, batch, facilitator=GROUP, session_id="w", submission_key="upload-1")
    assert workshop.submit_many(store, batch, facilitator=GROUP, session_id="w", submission_key="upload-1") == ids
    assert len(set(ids)) == 3
    counts = store.read().execute(
        "SELECT (SELECT count(*) FROM needs), (SELECT count(*) FROM annotations)").fetchone()
    assert counts == (5, 1)


def test_affects_me_too_counts_once_per_session(store: UserStore, place: needs.Location) -> None:
    a = needs.submit(store, report(place), session_id="s1")
    with pytest.raises(ValidationError):
        needs.add_support(store, a, session_id="s2")  # pending needs take no support yet
    needs.moderate(store, MODERATOR, "need", a, "approve")
    assert needs.add_support(store, a, session_id="s2") is True
    assert needs.add_support(store, a, session_id="s2") is False
    assert needs.add_support(store, a, session_id="s3") is True
    assert needs.approved_counts(store)[0][3] == 2


def test_annotations_need_a_community_group(store: UserStore) -> None:
    with pytest.raises(PermissionDenied):
        needs.annotate(store, User("anon", "public"), area_level="ward", area_code="E05000829", body="x")
    with pytest.raises(ValidationError, match="https"):
        needs.annotate(store, GROUP, area_level="ward", area_code="E05000829", body="No youth club",
                       evidence_url="javascript:alert(1)")
    nid = needs.annotate(store, GROUP, area_level="ward", area_code="E05000829",
                         body="No youth provision since the centre closed in 2024")
    assert [(p["item_type"], p["id"]) for p in needs.pending(store, MODERATOR)] == [("annotation", nid)]


def test_public_counts_are_suppressed_below_threshold() -> None:
    assert privacy.public_count(0, 10) == "none"
    assert privacy.public_count(9, 10) == "fewer than 10"
    assert privacy.public_count(10, 10) == "10"
    assert privacy.shown_count(3, 10, exact=True) == "3"


def test_escaping_stops_markup() -> None:
    assert privacy.escape_html('<script>alert("x")</script>') == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert privacy.escape_markdown("[click](javascript:alert(1)) **bold**") == (
        "&#91;click&#93;&#40;javascript&#58;alert&#40;1&#41;&#41; &#42;&#42;bold&#42;&#42;"
    )
    # Bare addresses would be turned into links after parsing: an invisible word joiner stops it.
    assert privacy.escape_markdown("www.x.org jo@x.org https://x.org") == (
        "www\u2060&#46;x&#46;org jo&#64;\u2060x&#46;org https&#58;\u2060//x&#46;org")
    assert privacy.escape_markdown("    code\n# head") == "code  \n&#35; head"


def test_passwords_are_hashed_and_checked(store: UserStore) -> None:
    create_account(store, "mod", "correct horse battery", "moderator")
    stored = store.read().execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith("$argon2")
    assert authenticate(store, "mod", "correct horse battery").role == "moderator"
    assert authenticate(store, "mod", "wrong password!!") is None
    assert authenticate(store, "nobody", "correct horse battery") is None
    with pytest.raises(PermissionDenied):
        require(None, "moderate")


def test_facilitator_csv(store: UserStore, place: needs.Location) -> None:
    def locate(postcode: str) -> needs.Location:
        if postcode.replace(" ", "").upper() != "M329AF":
            raise ValidationError(f"{postcode!r} is not a postcode in this area")
        return place

    good = workshop.csv_template().encode()
    parsed = workshop.parse_csv(good, filename="workshop.csv", locate_postcode=locate)
    assert parsed.problems == [] and len(parsed.reports) == 1
    ids = workshop.submit_many(store, parsed.reports, facilitator=GROUP, session_id="w")
    assert store.read().execute("SELECT channel, consent_recorded FROM needs WHERE id = ?", ids).fetchone() == ("csv", True)

    wrong = workshop.parse_csv(b"name,place\nx,y\n", filename="wrong.csv", locate_postcode=locate)
    assert "missing column(s) category" in wrong.problems[0]
    latin = workshop.parse_csv("category,description\ncaf\xe9\n".encode("latin-1"), filename="l.csv",
                            locate_postcode=locate)
    assert "not UTF-8" in latin.problems[0]
    bad_rows = workshop.csv_template() + "food,,x,,ZZ1 1ZZ,no\nfood,Bus cut,3,,XX9 9XX,yes\n"
    parsed = workshop.parse_csv(bad_rows.encode(), filename="w.csv", locate_postcode=locate)
    assert any("row 3, column 'consent_obtained'" in p for p in parsed.problems)
    assert any("row 4, column 'postcode'" in p for p in parsed.problems)


def test_a_csv_over_the_row_limit_is_refused_before_any_postcode_is_looked_up() -> None:
    """A 10,000-row file used to be geocoded row by row (~29 s) before being refused."""
    looked_up: list[str] = []

    def locate(postcode: str) -> needs.Location:
        looked_up.append(postcode)
        raise ValidationError("not in this area")

    row = "food,No affordable food shop within walking distance,12,,M32 9AF,yes\n"
    big = (",".join(workshop.CSV_TEMPLATE_COLUMNS) + "\n" + row * 10_000).encode()
    assert len(big) < workshop.MAX_CSV_BYTES  # the row limit, not the size limit, refuses it
    parsed = workshop.parse_csv(big, filename="big.csv", locate_postcode=locate)
    assert parsed.problems == ["big.csv: has 10,000 rows; the limit is 2,000 (split the file)"]
    assert looked_up == [] and parsed.reports == []
