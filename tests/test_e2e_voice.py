"""Residents' voice end to end in Chromium, against the real server with the network blocked.

One server (Trafford plus test services, and a fresh user store seeded with accounts and a
corpus of injection payloads) serves every test here. Everything the server sends to the
browser (websocket frames, downloads) is captured, so "never shown publicly" is checked on
what was actually served, not on what a page happened to display. Screenshots go to
test-artifacts/voice-*.png.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from needsmap.analysis import maps
from needsmap.store import StoreReader
from needsmap.store.users import open_user_store
from needsmap.voice import accounts, layers, needs, workshop
from needsmap.voice.locate import locate_postcode

from conftest import backend_settings, user_store_env
from dashboard_support import (
    ARTIFACTS,
    PASSWORD,
    TRAFFORD,
    browser_ready,
    choose,
    chromium,
    click_map,
    offline_page,
    open_tab,
    serve,
    sign_in,
    store_with_services,
    wait_idle,
    wait_in_map,
)

pytestmark = pytest.mark.browser

SEED_CONTACT = "seed-contact@example.org"
# Script, HTML, markdown and Streamlit-markdown injections, each tagged so it can be found.
PAYLOADS = [
    "<script>window.top.__xss=1;alert('script')</script>",
    "<img src=x onerror=\"window.top.__xss=1;alert('img')\">",
    "<a href=\"javascript:alert('link')\">click me</a>",
    "[markdown link](javascript:alert('md'))",
    "![markdown image](http://127.0.0.1:9/x.png)",
    "# Injected heading",
    "**bold** _em_ `code` ~~del~~",
    "&lt;b&gt;entity&lt;/b&gt; &amp;amp; &#60;i&#62;",
    "<svg onload=\"alert('svg')\"></svg>",
    "`${alert('template')}` \\x3cimg src=x onerror=alert('escape')\\x3e",
    ":red[red] :material/warning: $x^2$",
    "www.example.com and https://example.org/page",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "\"'><b onmouseover=alert('attr')>attribute break</b>",
]
TAGGED = [f"P{i:02d} {p}" for i, p in enumerate(PAYLOADS)]
NOTE = "N00 <img src=x onerror=alert('note')> [see](javascript:alert('note'))"
EVIDENCE = "https://example.org/a\"><script>alert('href')</script>"

# Everything the Leaflet map in an iframe shows for residents' voice: markers, popups, tooltips.
JS_VOICE_MARKERS = """() => { const out = []; if (!window.map) return null;
  const parse = html => { const t = document.createElement('template'); t.innerHTML = html;
                          return t.content; };
  window.map.eachLayer(l => {
    const icon = l.options && l.options.icon && l.options.icon.options;
    if (!icon || !['needs-marker', 'notes-marker'].includes(icon.className)) return;
    const popup = l.getPopup().getContent();
    const tip = parse(l.getTooltip().getContent());
    const bad = 'img,script,iframe,svg,object,embed,h1,h2,code,em,[onerror],[onload],[onmouseover]';
    out.push({kind: icon.className, lat: l.getLatLng().lat, lng: l.getLatLng().lng,
              badge: icon.html, text: popup.textContent, tip: tip.textContent,
              bad: popup.querySelectorAll(bad).length + tip.querySelectorAll(bad).length,
              links: Array.from(popup.querySelectorAll('a')).map(a => a.getAttribute('href'))});
  }); return out; }"""


def plain(text: str) -> str:
    """Text as a reader sees it: the invisible word joiners that stop auto-links removed."""
    return " ".join(text.replace("\u2060", "").split())


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def site(request, trafford_store, tmp_path_factory, mirror):
    """The server, the reference store, places used and the seeded items; residents' records
    in a DuckDB file, then in PostgreSQL (a shared deployment), with the same tests."""
    if reason := browser_ready():
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("voice-e2e")
    store = store_with_services(trafford_store.store_path, tmp)
    with backend_settings(request, request.param, tmp, mirror) as settings:
        cur = StoreReader(store).cursor()
        live = cur.execute(
            "SELECT postcode, lon, lat, lsoa21_code FROM postcodes WHERE source = 'onspd' AND NOT "
            "terminated AND lsoa21_code IS NOT NULL ORDER BY postcode").fetchall()
        seed_place = locate_postcode(cur, live[0][0])
        resident = next(p for p in live[200:] if p[3] != seed_place.lsoa21_code)
        users = open_user_store(settings)
        try:
            mod = accounts.create_account(users, "mod", PASSWORD, "moderator", "Mo Derator")
            accounts.create_account(users, "com", PASSWORD, "commissioner", "Cam Missioner")
            group = accounts.create_account(users, "grp", PASSWORD, "community_group", "Gee",
                                            "Stretford Youth Forum")
            for i, text in enumerate(TAGGED):  # approved: on the map, in lists and popups
                ref = needs.submit(users, needs.NeedReport("food", text, seed_place,
                                                           contact=SEED_CONTACT), session_id=f"s{i}")
                needs.moderate(users, mod, "need", ref, "approve")
            for i, text in enumerate(TAGGED[:4]):  # pending: in the moderation queue
                needs.submit(users, needs.NeedReport("youth", "pending " + text, seed_place,
                                                     contact=SEED_CONTACT), session_id=f"p{i}")
            note = needs.annotate(users, group, area_level="lsoa21", area_code=seed_place.lsoa21_code,
                                  body=NOTE, evidence_url=EVIDENCE)
            needs.moderate(users, mod, "annotation", note, "approve")
        finally:
            users.close()
        env = {**user_store_env(settings), "NEEDSMAP_REPORT_LIMIT": "20"}
        with serve(tmp, NEEDSMAP_STORE=str(store), **env) as url:
            yield {"url": url, "store": store, "seed": seed_place, "resident": resident}


@pytest.fixture
def browser(site):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


def open_page(browser, site):  # noqa: ANN001, ANN201
    """A new session that records dialogs and every byte the server sends over the websocket."""
    pg = offline_page(browser)
    pg.dialogs, pg.served = [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))

    def on_ws(ws) -> None:  # noqa: ANN001
        ws.on("framereceived", lambda payload: pg.served.append(
            payload if isinstance(payload, bytes) else payload.encode()))

    pg.on("websocket", on_ws)
    return pg


def served(pg) -> bytes:  # noqa: ANN001
    return b"".join(pg.served)


def voice_markers(pg, want: int = 1) -> list[dict]:  # noqa: ANN001
    """The map's resident-needs and notes markers, once at least ``want`` are drawn."""
    frame = wait_in_map(pg, JS_VOICE_MARKERS, until=f"v => !!v && v.length >= {want}")
    return frame.evaluate(JS_VOICE_MARKERS)


def area_point(site, code: str) -> tuple[float, float]:
    points = maps.area_points(StoreReader(site["store"]).cursor(), "lsoa21", TRAFFORD)
    row = points.set_index("code").loc[code]
    return float(row["lat"]), float(row["lon"])


def no_injected_markup(pg) -> None:  # noqa: ANN001
    """No element came from user text: every markdown block holding a tagged payload has only
    paragraphs and line breaks in it, and every literal block (common.show_literal) only the
    app's own bold and its evidence links to web addresses."""
    blocks = pg.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid=stMarkdownContainer], .nm-literal'))
        .filter(e => /P\\d\\d |N00 /.test(e.textContent))
        .map(e => [e.classList.contains('nm-literal'), e.innerHTML,
                   Array.from(e.querySelectorAll('a')).map(a => a.getAttribute('href'))])""")
    assert blocks, "no payload was shown"
    for literal, block, hrefs in blocks:
        allowed = {"strong", "a"} if literal else {"p", "br"}
        assert set(re.findall(r"<\s*/?\s*([a-zA-Z0-9-]+)", block)) <= allowed, block
        assert all(h.startswith(("https://", "http://")) for h in hrefs), hrefs
    assert pg.evaluate("() => window.__xss") is None


def test_report_moderate_and_see_it_on_the_commissioners_map(site, browser) -> None:
    postcode, lon, lat, lsoa = site["resident"]
    # A resident reports by postcode, with contact details.
    pg = open_page(browser, site)
    pg.goto(site["url"] + "report")  # the server's first visitor, on a deep link
    nav = pg.locator(".st-key-site-menu")  # the app's own menu (dashboard/navigation.py)
    nav.get_by_text("Residents").wait_for()  # the app's navigation, not one page on its own
    assert nav.get_by_text("Moderation").count() == 0
    started = time.monotonic()
    pg.get_by_role("textbox", name="Postcode of the place").fill(postcode)
    choose(pg, "What kind of need is it?", "Lonel")
    pg.get_by_role("textbox", name="Describe the need").fill("E2E: the library closed")
    pg.get_by_role("textbox", name="Your email or phone number").fill("e2e-resident@example.org")
    pg.get_by_role("button", name="Send report").click()
    pg.get_by_text("your report has been received").wait_for()
    print(f"resident's report by postcode: {time.monotonic() - started:.1f} s in the browser")
    pg.screenshot(path=ARTIFACTS / "voice-1-reported.png")

    # Another resident clicks the map instead.
    pg = open_page(browser, site)
    pg.goto(site["url"] + "report")
    pg.get_by_text("Clicking on the map").click()
    frame = wait_in_map(pg, "() => window.map.getZoom()")
    click_map(frame, *area_point(site, lsoa))
    pg.get_by_text("You chose a place in the small area").wait_for()
    choose(pg, "What kind of need is it?", "Transp")
    pg.get_by_role("textbox", name="Describe the need").fill("E2E: no bus on Sundays")
    pg.get_by_role("button", name="Send report").click()
    pg.get_by_text("your report has been received").wait_for()

    # A moderator signs in and approves both.
    pg = open_page(browser, site)
    sign_in(pg, site["url"], "mod")
    pg.get_by_role("link", name="Moderation").click()
    for text in ("E2E: the library closed", "E2E: no bus on Sundays"):
        item = pg.locator("[class*='st-key-item-']").filter(has_text=text)
        item.get_by_role("button", name="Approve as it is").click()
        pg.get_by_text("approved.").wait_for()
    pg.screenshot(path=ARTIFACTS / "voice-2-moderation.png")
    assert pg.get_by_text("E2E: the library closed").count() == 0  # no longer waiting

    # A commissioner sees them on the map, at the small area's fixed point.
    pg = open_page(browser, site)
    sign_in(pg, site["url"], "com")
    pg.get_by_role("link", name="Map", exact=True).click()
    markers = voice_markers(pg, 3)
    [ours] = [m for m in markers if "E2E: the library closed" in m["text"]]
    assert "E2E: no bus on Sundays" in ours["text"] and ours["badge"].endswith(">2</div>")
    assert (round(ours["lat"], 5), round(ours["lng"], 5)) == area_point(site, lsoa)
    assert (ours["lat"], ours["lng"]) != (lat, lon)
    pg.get_by_text("Every approved need (commissioners and analysts)").wait_for()
    pg.screenshot(path=ARTIFACTS / "voice-3-commissioner-map.png")
    with pg.expect_download() as download:
        pg.get_by_role("button", name="Download every approved need (CSV)").click()
    export = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "E2E: the library closed" in export
    sent = served(pg) + export.encode()
    for secret in (postcode, "e2e-resident@example.org", SEED_CONTACT, f"{lat}, {lon}",
                   f"{lon},{lat}", f"{lat},{lon}", f"{lon}, {lat}"):
        assert secret.encode() not in sent, secret
    assert not pg.dialogs and pg.context.external == []


def test_public_pages_and_downloads_hold_no_exact_places_or_contacts(site, browser) -> None:
    seed = site["seed"]
    pg = open_page(browser, site)
    pg.goto(site["url"])
    markers = voice_markers(pg)
    [needs_marker] = [m for m in markers if m["kind"] == "needs-marker"
                      and (round(m["lat"], 5), round(m["lng"], 5)) == area_point(site, seed.lsoa21_code)]
    # 14 approved reports in one area: shown as published (exactly, or hidden when disclosure
    # control must protect a small count elsewhere); none of their text is on the public map.
    published = {">14</div>": "14", ">few</div>": layers.HIDDEN}
    [badge] = [shown for end, shown in published.items() if needs_marker["badge"].endswith(end)]
    assert "P00" not in needs_marker["text"]
    pg.get_by_text("Residents' needs by small area").wait_for()
    with pg.expect_download() as download:
        pg.get_by_role("button", name="Download these counts (CSV)").click()
    counts = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert f"Food,{badge}," in counts  # the map and the download say the same
    assert pg.get_by_role("button", name="Download every approved need (CSV)").count() == 0
    pg.screenshot(path=ARTIFACTS / "voice-4-public-map.png")
    for path, ready in (("report", "Describe the need"), ("notes", "Needs reported in"),
                        ("area", "Neighbouring small areas"), ("sources", "Attribution")):
        pg.goto(site["url"] + path)
        pg.get_by_role("heading", name=ready).or_(pg.get_by_label(ready)).first.wait_for()
    sent = served(pg) + counts.encode()
    for secret in (SEED_CONTACT, seed.postcode, f"{seed.lat}, {seed.lon}", f"{seed.lon},{seed.lat}",
                   f"{seed.lat},{seed.lon}", f"{seed.lon}, {seed.lat}", "pending P0"):
        assert secret.encode() not in sent, secret
    assert not pg.dialogs and pg.context.external == []


def test_injection_corpus_renders_as_text(site, browser) -> None:
    seed = site["seed"]
    ward = StoreReader(site["store"]).cursor().execute(
        "SELECT ward_name FROM lsoa21_lookup WHERE lsoa21_code = ?", [seed.lsoa21_code]).fetchone()[0]
    # Submitted through the form as well as seeded: the whole corpus in one report.
    pg = open_page(browser, site)
    pg.goto(site["url"] + "report")
    pg.get_by_role("textbox", name="Postcode of the place").fill(seed.postcode)
    choose(pg, "What kind of need is it?", "Other")
    pg.get_by_role("textbox", name="Describe the need").fill("\n".join(TAGGED[:8]))
    pg.get_by_role("button", name="Send report").click()
    pg.get_by_text("your report has been received").wait_for()

    # The moderation queue shows pending payloads as text.
    pg = open_page(browser, site)
    sign_in(pg, site["url"], "mod")
    pg.get_by_role("link", name="Moderation").click()
    pg.get_by_text("pending P03").wait_for()
    text = plain(pg.inner_text("body"))
    for payload in TAGGED[:4]:
        assert plain("pending " + payload) in text
    no_injected_markup(pg)
    pg.screenshot(path=ARTIFACTS / "voice-5-moderation-corpus.png", full_page=True)
    # Approving the form's report: its markdown block has every line as plain text.
    item = pg.locator("[class*='st-key-item-']").filter(has_text="P07 &lt;b&gt;")
    item.get_by_role("button", name="Approve as it is").click()
    pg.get_by_text("approved.").wait_for()

    # The public list of needs and the community notes.
    pg.get_by_role("link", name="Needs and community notes").click()
    choose(pg, "Ward (type to search)", ward)
    pg.get_by_text(f"Community notes on {ward}").wait_for()
    pg.get_by_text("N00").first.wait_for()
    text = plain(pg.inner_text("body"))
    for payload in TAGGED + [NOTE]:
        assert plain(payload) in text, payload
    no_injected_markup(pg)
    links = pg.evaluate("() => Array.from(document.querySelectorAll('a')).map(a => a.href)")
    assert not [h for h in links if h.startswith("javascript") or "<script" in h]
    pg.screenshot(path=ARTIFACTS / "voice-6-notes-corpus.png", full_page=True)

    # The commissioner's map: popups and tooltips with every payload as text.
    pg = open_page(browser, site)
    sign_in(pg, site["url"], "com")
    pg.get_by_role("link", name="Map", exact=True).click()
    markers = voice_markers(pg, 2)
    popup_text = plain(" ".join(m["text"] for m in markers))
    for payload in TAGGED + [NOTE]:
        assert plain(payload) in popup_text, payload
    assert sum(m["bad"] for m in markers) == 0
    note_links = [h for m in markers for h in m["links"]]
    assert note_links and all(h.startswith("https://example.org/a%22%3E%3Cscript%3E") for h in note_links)
    assert pg.evaluate("() => window.__xss") is None
    assert not pg.dialogs, pg.dialogs
    assert pg.context.external == []


def test_workshop_csv_import_explains_bad_files_and_saves_good_ones(site, browser) -> None:
    pg = open_page(browser, site)
    sign_in(pg, site["url"], "grp")
    pg.get_by_role("link", name="Workshop entry").click()
    open_tab(pg, "Import a CSV file").get_by_text("Everyone listed agreed").click()
    template = workshop.csv_template().replace("M32 9AF", site["seed"].postcode)
    for name, data, message in (
        ("wrong.csv", b"name,place\nx,y\n", "wrong.csv: missing column(s) category"),
        ("excel.csv", template.encode("utf-16"), "excel.csv: is not UTF-8 text"),
        ("outside.csv", template.replace(site["seed"].postcode, "M1 1AE").encode(),
         "outside.csv row 2, column 'postcode': M1 1AE is outside the area"),
        ("good.csv", template.encode(), "Saved 1 need from good.csv"),
    ):
        # once the app is idle: the consent tick (or the last check) reruns the page, and a
        # file given to the uploader while that run redraws it can be dropped
        wait_idle(pg)
        pg.locator("input[type=file]").set_input_files(
            {"name": name, "mimeType": "text/csv", "buffer": data})
        # the run that holds this file says so: only then does "Check" read it
        pg.get_by_text(f"Ready to check: {name} ({len(data):,} bytes)").wait_for()
        wait_idle(pg)
        pg.get_by_role("button", name="Check and save the file").click()
        pg.get_by_text(message).wait_for()
        if name != "good.csv":
            pg.get_by_text("nothing was saved").first.wait_for()
    pg.screenshot(path=ARTIFACTS / "voice-7-workshop.png")

    # The form: each need's fields are found by their labels, as a screen reader finds them.
    typed = open_tab(pg, "Type them in")
    postcode = pg.get_by_label("Need 1: postcode of the place it is about")
    postcode.fill(site["seed"].postcode)
    pg.get_by_label("Need 1: what they said").fill("Typed at the drop-in: no bus")
    typed.get_by_text("Everyone listed agreed").click()
    save_needs = pg.get_by_role("button", name="Check and save these needs")
    save_needs.click()
    pg.get_by_text("need 1: choose what kind of need it is").wait_for()
    choose(pg, "Need 1: what kind of need", "Transport")
    save_needs.click()
    pg.get_by_text("Saved 1 need from the form").wait_for()
    assert not pg.dialogs and pg.context.external == []
