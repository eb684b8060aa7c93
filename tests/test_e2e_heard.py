"""Who has been heard, end to end in Chromium against the real server: residents answer the
optional "About you" question on the report form (kept only with the consent tick), and a
commissioner's "Who has been heard" page shows participation by deprivation decile and by age
band against the Census 2021 figures for those reports, small counts hidden, with the voice-gap
map drawn and keyed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard import report_texts as words
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import about_you, accounts, needs
from needsmap.voice.accounts import User
from needsmap.voice.locate import locate_postcode
from needsmap.voice.resident_rights import parse_reference

from conftest import make_settings, trafford_points, user_store_env
from dashboard_support import (
    JS_COUNT_FILLED,
    ROOT,
    browser_ready,
    choose,
    chromium,
    map_frame,
    offline_page,
    open_tab,
    serve,
    sign_in,
    store_with_services,
    table_after,
    wait_idle,
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "a long enough password"
MODERATOR = User("mod", "moderator", "Mo")
CONSENT = words.ABOUT_YOU_CONSENT


def decile_of(cur, lsoa: str) -> int:  # noqa: ANN001
    return int(cur.execute("SELECT decile FROM iod_domain WHERE release = 2025 AND domain = 'imd' "
                           "AND lsoa_code = ?", [lsoa]).fetchone()[0])


def report_in_browser(pg, url: str, postcode: str, text: str, age: str | None,  # noqa: ANN001
                      consent: bool, expect: str) -> str:
    """Fill in the report form as a resident and send it; the page's text once ``expect``
    shows."""
    pg.goto(url + "report")
    pg.get_by_role("textbox", name="Postcode of the place").fill(postcode)
    choose(pg, "What kind of need is it?", "Food")
    pg.get_by_role("textbox", name="Describe the need").fill(text)
    if age:
        choose(pg, words.YOUR_AGE, age)
    if consent:
        pg.get_by_text(CONSENT).click()
    wait_idle(pg)
    pg.get_by_role("button", name="Send report").click()
    pg.get_by_text(expect).first.wait_for()
    return pg.inner_text("[data-testid=stMain]")



def test_commissioner_sees_who_has_been_heard_by_decile_and_age(trafford_store, tmp_path: Path,
                                                                mirror) -> None:  # noqa: ANN001
    if reason := browser_ready():
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    store_path = store_with_services(trafford_store.store_path, tmp_path)
    settings = make_settings(tmp_path, mirror)
    cur = StoreReader(store_path).cursor()
    points = trafford_points(trafford_store, 400)
    by_decile: dict[int, tuple] = {}
    for p in points:                         # postcodes in four different deciles
        by_decile.setdefault(decile_of(cur, p[3]), p)
    first, other, third, fourth = list(by_decile.values())[:4]
    users = open_user_store(settings)
    try:
        accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam Missioner")
        accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee", "Test Forum")
        place = locate_postcode(cur, first[0])
        for i in range(23):        # 12 people aged 35 to 49 and 11 aged 50 to 64 said so
            ref = needs.submit(users, needs.NeedReport("food", f"Seeded need {i}", place),
                               session_id=f"seed{i}")
            needs.moderate(users, MODERATOR, "need", ref, "approve")
            band = "age_35_49" if i < 12 else "age_50_64"
            about_you.save(users, ref, about_you.AboutYou(band, {}, consent=True), [])
        # 12 and 30 reports elsewhere: the 12 is hidden to protect the single report's decile
        # (the smallest complement), so the others stay shown
        for n, where in ((12, third), (30, fourth)):
            spot = locate_postcode(cur, where[0])
            for i in range(n):
                ref = needs.submit(users, needs.NeedReport("youth", f"Seeded {n} {i}", spot),
                                   session_id=f"seed{n}-{i}")
                needs.moderate(users, MODERATOR, "need", ref, "approve")
    finally:
        users.close()
    env = {"NEEDSMAP_STORE": str(store_path), **user_store_env(settings)}

    with serve(tmp_path, **env) as url, chromium() as browser:
        pg = offline_page(browser)
        # An age without the consent tick is refused, not quietly kept.
        shown = report_in_browser(pg, url, first[0], "No food bank open on Saturdays", "65", False,
                                  "tick 'I agree' under About you")
        assert "your report has been received" not in shown
        # With the tick, the answer is kept apart from the report.
        shown = report_in_browser(pg, url, first[0], "No food bank open on Saturdays", "65", True,
                                  "your report has been received")
        ref_old = parse_reference(shown.split("(reference ")[1].split(")")[0])
        # A report from an area in another decile, with no answers about the person.
        pg2 = offline_page(browser)
        shown = report_in_browser(pg2, url, other[0], "Nowhere to get help with debts", None, False,
                                  "your report has been received")
        ref_other = parse_reference(shown.split("(reference ")[1].split(")")[0])
        pg2.context.close()
        # Residents do not have the page in their menu.
        assert pg.get_by_role("link", name="Who has been heard").count() == 0

        # At a workshop: the teller's own age is kept only with its own consent tick.
        grp = offline_page(browser)
        sign_in(grp, url, "grp", PASSWORD)
        grp.get_by_role("link", name="Workshop entry").click()
        typed = open_tab(grp, "Type them in")
        grp.get_by_label("Need 1: postcode of the place it is about").fill(first[0])
        grp.get_by_label("Need 1: what they said").fill("Workshop: the lunch club closed")
        choose(grp, "Need 1: what kind of need", "Food")
        choose(grp, "Need 1: the age of the person who told you", "65")
        typed.get_by_text("Everyone listed agreed").click()
        save_needs = grp.get_by_role("button", name="Check and save these needs")
        save_needs.click()
        grp.get_by_text("tick the box under the needs to keep the ages").wait_for()
        typed.get_by_text("Those who gave their age agreed").click()
        wait_idle(grp)
        save_needs.click()
        grp.get_by_text("Saved 1 need from the form").wait_for()
        ref_workshop = parse_reference(grp.get_by_text("Saved 1 need from the form").inner_text()
                           .split("(reference ")[1].split(")")[0])
        grp.context.close()

    # The app owns the DuckDB user store while it runs: moderate between two runs of it.
    users = open_user_store(settings)
    try:
        for ref in (ref_old, ref_other):
            needs.moderate(users, MODERATOR, "need", ref, "approve")
        kept = users.read().execute("SELECT need_id, age_band FROM about_you WHERE need_id IN (?, ?, ?) "
                                    "ORDER BY need_id", [ref_old, ref_other, ref_workshop]).fetchall()
        channel = users.read().execute("SELECT channel, description FROM needs WHERE id = ?",
                                       [ref_workshop]).fetchone()
        text = users.read().execute("SELECT description FROM needs WHERE id = ?", [ref_old]).fetchone()
    finally:
        users.close()
    assert kept == [(ref_old, "age_65_plus"), (ref_workshop, "age_65_plus")]
    assert text == ("No food bank open on Saturdays",)
    assert channel == ("workshop", "Workshop: the lunch club closed")     # still pending

    with serve(tmp_path, **env) as url, chromium() as browser:
        pg = offline_page(browser)
        sign_in(pg, url, "com", PASSWORD)
        pg.get_by_role("link", name="Who has been heard").click()
        pg.get_by_role("heading", name="Who has been heard", level=1).wait_for()
        wait_idle(pg)

        deciles = table_after(pg, "Taking part by deprivation")
        head = deciles[0]
        by_decile = {r[0]: dict(zip(head, r)) for r in deciles[1:]}
        here, there = str(decile_of(cur, first[3])), str(decile_of(cur, other[3]))
        assert by_decile[here]["Approved reports"] == "24"          # 23 seeded + 1 from the form
        assert by_decile[there]["Approved reports"] == "c"          # one report: hidden
        assert by_decile[there]["Per 1,000 residents"] == "c"       # and its rate with it
        assert by_decile[str(decile_of(cur, third[3]))]["Approved reports"] == "c"   # the complement
        rates = {}
        for where, n in ((first, 24), (fourth, 30)):
            d = decile_of(cur, where[3])
            residents = cur.execute(
                "SELECT sum(p.total) FROM population p JOIN lsoa21_lookup l USING (lsoa21_code) "
                "JOIN iod_domain d ON d.lsoa_code = l.lsoa21_code AND d.release = 2025 "
                "AND d.domain = 'imd' WHERE l.lad_code = 'E08000009' AND d.decile = ?", [d]).fetchone()[0]
            assert by_decile[str(d)]["Residents"].replace(",", "") == str(int(residents))
            assert by_decile[str(d)]["All taking part"] == str(n)
            rates[d] = round(n * 1000 / residents, 2)
            assert by_decile[str(d)]["Per 1,000 residents"] == f"{rates[d]:.1f}"
        # the ratio: lowest to highest of the rates shown (deciles where nobody took part count)
        shown_rates = {int(d): float(r["Per 1,000 residents"]) for d, r in by_decile.items()
                       if r["Per 1,000 residents"] != "c"}
        low, high = min(shown_rates.values()), max(shown_rates.values())
        assert high == round(max(rates.values()), 1)
        exact_low, exact_high = (0.0 if low == 0 else min(rates.values())), max(rates.values())
        ratio = pg.locator("strong", has_text="per 1,000 residents").first.inner_text()
        assert (f"({low:.1f} and {high:.1f} per 1,000 residents)" in ratio if low else
                ratio.startswith("Nobody in") and f"against {high:.1f} per 1,000" in ratio), ratio
        pg.get_by_text(f"Ratio {exact_low / exact_high:.2f} (lowest to highest rate)").wait_for()

        ages = table_after(pg, "Taking part by age")
        by_age = {r[0]: dict(zip(ages[0], r)) for r in ages[1:]}
        census = dict(zip(about_you.AGE_BANDS, cur.execute(
            "SELECT " + ", ".join(f"sum({b}) / sum(total)" for b in about_you.AGE_BANDS) +
            " FROM population p JOIN lsoa21_lookup l USING (lsoa21_code) "
            "WHERE l.lad_code = 'E08000009'").fetchone()))
        assert by_age["35 to 49"]["People who said their age"] == "12"
        assert by_age["65 and over"]["People who said their age"] == "c"      # one person
        assert by_age["50 to 64"]["People who said their age"] == "c"         # else 65+ = total - rest
        for band, label in about_you.BAND_LABELS.items():
            assert by_age[label]["Share of residents"] == f"{census[band]:.0%}"
            assert by_age[label]["Share of those who took part"] == "c"
        pg.get_by_text(f"People aged 65 and over are {census['age_65_plus']:.0%} of residents and "
                       "not shown (small numbers) of those who took part.").wait_for()

        # The voice-gap map is drawn, with its key in words and its source under it.
        map_frame(pg, JS_COUNT_FILLED)
        pg.get_by_role("list", name="Voice gap").wait_for()
        pg.get_by_text("High need, nobody has taken part yet").first.wait_for()
        pg.get_by_text("High need: IMD deciles 1 to 3 (IoD2025).", exact=False).wait_for()
        pg.screenshot(path=ARTIFACTS / "who-has-been-heard.png", full_page=True)
        assert not pg.context.external, pg.context.external
