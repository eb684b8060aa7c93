"""A priorities round end to end in Chromium against the real server: a commissioner opens a
Trafford food-and-money budget round, residents vote in their own browser sessions (a reload
does not give a second vote), a community group enters a workshop batch and paper ballots, the
round closes, the results show the counts and the Equal Shares outcome beside most votes, the
result is kept as a community weighting, and the Gaps page and a ward's commissioning pack
show it applied with its provenance."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.common import AREA_LABEL
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import accounts, rounds

from conftest import make_settings, user_store_env
from dashboard_support import (
    ROOT,
    browser_ready,
    choose,
    chromium,
    offline_page,
    runs,
    serve,
    sign_in,
    store_with_services,
    table_after,
    wait_idle,
)

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "a long enough password"
QUESTION = "What should Trafford fund first for food and money?"
PROJECTS = "Food bank van; 6000; food\nDebt advice drop-in; 4000; money_advice\nCommunity kitchen; 5000; Food"
NAME = "Trafford residents, food and money round"


def open_priorities(pg, url: str, signed_in: bool = False) -> None:  # noqa: ANN001
    """The Priorities page with Trafford chosen (signed in: from the menu, to keep the session)."""
    if signed_in:
        pg.get_by_role("link", name="Priorities", exact=True).click()
    else:
        pg.goto(url + "priorities")
    pg.get_by_role("heading", name="Priorities", level=1).wait_for()
    choose(pg, AREA_LABEL, "Trafford")
    wait_idle(pg)


def vote_in_browser(browser, url: str, choices: list[str], postcode: str) -> str:  # noqa: ANN001
    """A resident's session: tick the options, give a postcode, send; then reload the page."""
    pg = offline_page(browser)
    try:
        open_priorities(pg, url)
        pg.get_by_role("heading", name=QUESTION).wait_for()
        wait_idle(pg)        # a run still drawing the page would redraw the form and empty it
        for label in choices:
            box = pg.get_by_role("checkbox", name=re.compile("^" + re.escape(label)))
            pg.get_by_text(re.compile("^" + re.escape(label) + r" \(£")).click()  # its label
            expect(box).to_be_checked()
        where = pg.get_by_role("textbox", name="Your postcode (you can leave this out)")
        where.fill(postcode)
        expect(where).to_have_value(postcode)
        wait_idle(pg)
        pg.get_by_role("button", name="Send my vote").click()
        pg.get_by_text("Thank you: your vote has been counted.").wait_for()
        pg.reload()                                  # the cookie stays: no second ballot offered
        pg.get_by_role("heading", name="Priorities", level=1).wait_for()
        wait_idle(pg)
        pg.get_by_text("You have voted in this round.").wait_for()
        assert pg.get_by_role("button", name="Send my vote").count() == 0
        return pg.inner_text("[data-testid=stMain]")
    finally:
        pg.context.close()


def enter_batch(pg, choices: list[str], count: int, postcode: str, source: str) -> None:  # noqa: ANN001
    """A facilitator's batch: the options ticked, how many such ballots, consent, save."""
    combo = pg.get_by_role("combobox", name="The options ticked on these ballots")
    if not combo.is_visible():                       # open after a batch is saved
        pg.get_by_text("Enter paper or workshop ballots").click()
    for label in choices:      # a multiselect keeps its list open after a pick: Escape closes it
        wait_idle(pg)
        combo.click()
        combo.fill(label)
        pg.get_by_role("option", name=re.compile(re.escape(label))).first.wait_for()
        before = runs(pg)
        pg.keyboard.press("Enter")
        pg.keyboard.press("Escape")
        wait_idle(pg, before)  # the pick's own rerun, or the next pick is drawn over and lost
    pg.screenshot(path=str(ARTIFACTS / f"priorities-batch-{source}.png"), full_page=True)
    box = pg.get_by_role("spinbutton", name="How many ballots ticked exactly these")
    # the last batch's form (an older key) stays on the page until its rerun has been drawn
    expect(box).to_have_count(1, timeout=60_000)
    box.fill(str(count))
    box.press("Tab")
    pg.get_by_role("textbox", name="Their postcode, if the ballots give one (the same for all)").fill(postcode)
    pg.get_by_text({"workshop": "At a workshop", "paper": "On paper"}[source]).click()
    pg.get_by_text("Everyone whose ballot is entered here agreed").click()
    wait_idle(pg)
    pg.get_by_role("button", name="Save these ballots").click()
    pg.get_by_text(f"Saved {count} {source} ballot(s)").wait_for()
    wait_idle(pg)



def test_a_food_and_money_round_from_opening_to_the_pack(trafford_store, tmp_path: Path,
                                                         mirror) -> None:  # noqa: ANN001
    if reason := browser_ready():
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    store_path = store_with_services(trafford_store.store_path, tmp_path)
    settings = make_settings(tmp_path, mirror)
    cur = StoreReader(store_path).cursor()
    postcode, lsoa, ward = cur.execute(
        "SELECT p.postcode, p.lsoa21_code, l.ward_name FROM postcodes p JOIN lsoa21_lookup l "
        "USING (lsoa21_code) WHERE p.source = 'onspd' AND NOT p.terminated AND l.lad_code = "
        "'E08000009' ORDER BY p.postcode LIMIT 1").fetchone()
    users = open_user_store(settings)
    try:
        accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam Missioner")
        accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee", "Test Forum")
    finally:
        users.close()
    env = {"NEEDSMAP_STORE": str(store_path), **user_store_env(settings)}

    with serve(tmp_path, **env) as url, chromium() as browser:
        com = offline_page(browser)
        sign_in(com, url, "com", PASSWORD)
        open_priorities(com, url, signed_in=True)
        com.get_by_role("textbox", name="The question residents are asked").fill(QUESTION)
        com.get_by_text("Choose projects within a budget").click()
        wait_idle(com)
        budget = com.get_by_role("spinbutton", name="Budget to share (pounds)")
        budget.fill("10000")
        budget.press("Tab")
        com.get_by_role("textbox", name="Projects").fill(PROJECTS)
        wait_idle(com)
        com.get_by_role("button", name="Open the round").click()
        com.get_by_text(re.compile(r"Round \d+ is open")).wait_for()
        com.get_by_role("heading", name=QUESTION).wait_for()

        # Two residents vote for the kitchen, each in a browser session of their own.
        shown = vote_in_browser(browser, url, ["Community kitchen"], postcode)
        assert "Send my vote" not in shown
        vote_in_browser(browser, url, ["Community kitchen"], postcode)

        # A community group enters a workshop batch and paper ballots, consent confirmed.
        grp = offline_page(browser)
        sign_in(grp, url, "grp", PASSWORD)
        open_priorities(grp, url, signed_in=True)
        enter_batch(grp, ["Food bank van", "Debt advice drop-in"], 12, postcode, "workshop")
        enter_batch(grp, ["Community kitchen"], 9, postcode, "paper")
        assert grp.get_by_role("button", name="Close this round now").count() == 0  # not theirs
        grp.context.close()

        # The commissioner closes the round: no more votes; the results show.
        com.get_by_role("link", name="Map", exact=True).click()   # away and back, signed in
        com.get_by_role("heading", name="Deprivation and services").wait_for()
        open_priorities(com, url, signed_in=True)
        com.get_by_role("button", name="Close this round now").click()
        com.get_by_text(re.compile(r"Round \d+ is closed")).wait_for()
        rows = table_after(com, re.compile("^Results of round"))
        head = rows[0]
        by_option = {r[0]: dict(zip(head, r)) for r in rows[1:]}
        assert by_option["Food bank van"]["Votes"] == "12", (rows, com.inner_text("[data-testid=stMain]"))
        assert by_option["Debt advice drop-in"]["Votes"] == "12"
        assert by_option["Community kitchen"]["Votes"] == "11"
        assert by_option["Community kitchen"]["Equal Shares"] == "Funded"
        assert by_option["Food bank van"]["Equal Shares"] == "Not funded"
        assert by_option["Food bank van"]["Most votes"] == "Funded"
        main = com.inner_text("[data-testid=stMain]")
        assert "People who voted: 23" in main
        assert "Equal Shares funds: Debt advice drop-in, Community kitchen (£9,000 of £10,000)." in main
        assert "Most votes funds: Food bank van, Debt advice drop-in (£10,000 of £10,000)." in main
        assert ("The two methods fund different projects: Equal Shares also funds 'Community "
                "kitchen', which most votes leaves out") in main
        com.screenshot(path=str(ARTIFACTS / "priorities-results.png"), full_page=True)

        # Kept as a community weighting.
        com.get_by_text("Keep this result as a community weighting").click()
        com.get_by_role("textbox", name="Name").fill(NAME)
        wait_idle(com)
        com.get_by_role("button", name="Save the community weighting").click()
        com.get_by_text(f"Saved the community weighting '{NAME}'").wait_for()
        today = rounds.day_words(date.today())
        provenance = f"{NAME}: 23 people voted {today} (people in Trafford; saved by com)"

        # The Gaps page applies it, with its provenance.
        com.get_by_role("link", name="Gaps", exact=True).click()
        com.get_by_role("heading", name="Gaps: where need is high and provision is low").wait_for()
        choose(com, "Community weighting (from a priorities round)", NAME)
        com.get_by_role("heading", name="Community priorities").wait_for()
        wait_idle(com)
        main = com.inner_text("[data-testid=stMain]")
        assert f"Community weighting applied: {provenance}." in main
        assert "Residents chose: Food 66%; Money and advice 34%" in main
        com.screenshot(path=str(ARTIFACTS / "priorities-gaps.png"), full_page=True)

        # A ward's commissioning pack applies it too.
        com.get_by_role("link", name="Reports", exact=True).click()
        com.get_by_role("heading", name="Reports and data").wait_for()
        wait_idle(com)
        com.get_by_text("A ward", exact=True).click()
        choose(com, "Ward (type to search)", ward)
        com.get_by_text("Commissioning pack (adds the 'you said, we did' log)").click()
        choose(com, "Community weighting for the pack's priorities", NAME)
        com.get_by_text(f"Community weighting applied: {provenance}.").wait_for()
        com.get_by_role("button", name="Prepare the report and data files").click()
        button = com.get_by_role("button", name="Report (HTML)")
        button.wait_for(timeout=180_000)
        wait_idle(com)
        with com.expect_download() as info:
            button.click()
        html = Path(info.value.path()).read_text()
        com.context.close()

    assert f"Commissioning pack: {ward}" in html.replace("&amp;", "&") or "Commissioning pack" in html
    section = html[html.index("<h2>Community priorities</h2>"):]
    section = section[:section.index("</section>")]
    assert f"Community weighting applied: {provenance}." in section.replace("&#39;", "'")
    assert "Food 66%; Money and advice 34%" in section
    # the lifecycle is in the moderation log, ballots are in the store once each
    users = open_user_store(settings)
    try:
        rid = rounds.rounds(users)[0].id
        assert [a for _, _, a, _ in rounds.round_log(users, rid)] == [
            "open_round", "enter_ballots", "enter_ballots", "close_round", "save_weighting"]
        sources = dict(users.read().execute("SELECT source, count(*) FROM ballots GROUP BY 1").fetchall())
        assert sources == {"browser": 2, "workshop": 12, "paper": 9}
        assert users.read().execute("SELECT count(*), count(DISTINCT lsoa21_code), min(lsoa21_code) "
                                    "FROM ballots WHERE lsoa21_code IS NOT NULL").fetchone() == (23, 1, lsoa)
    finally:
        users.close()
