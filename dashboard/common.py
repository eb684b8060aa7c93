"""What every page shares: the store reader, cached reads keyed by store generation, wording.

Pages call ``needsmap`` functions (``mapdata``, ``gaps``, ``summaries``) through ``read()`` and
hold no SQL. Small results (per
authority GeoJSON, tables) sit in ``st.cache_data`` keyed by the store's generation, so a new
build shows up without a restart; the reader itself is a ``st.cache_resource``.
"""

from __future__ import annotations

import atexit
import html
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from streamlit.components import v2 as components_v2
from streamlit.errors import StreamlitPageNotFoundError

from needsmap.analysis import maps
from needsmap.config import load_settings
from needsmap.errors import ConfigError, StoreError, StoreUnavailable, ValidationError
from needsmap.store import StoreReader, areas
from needsmap.store.users import UserStore, backup, chores, open_user_store
from needsmap.terms import colours
from needsmap.voice import browsers, mail, retention
from needsmap.voice.accounts import PermissionDenied
from needsmap.voice.needs import RateLimiter, new_submission_key
from needsmap.voice.privacy import escape_html, escape_markdown

T = TypeVar("T")

# Session-state keys shared between pages.
LAD = "lad_code"
RELEASE = "release"
PLACE = "place_code"


@st.cache_resource(show_spinner=False)
def _reader(path: str) -> StoreReader:
    return StoreReader(Path(path))


def reader() -> StoreReader:
    """The process's reader for the configured store (NEEDSMAP_STORE)."""
    return _reader(str(load_settings().store_path))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached(module: str, name: str, path: str, generation: object, args: tuple, kwargs: tuple) -> Any:
    return getattr(importlib.import_module(module), name)(_reader(path).cursor(), *args, **dict(kwargs))


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a ``needsmap`` function that takes a store cursor first, cached per store generation."""
    if not fn.__module__.startswith("needsmap."):
        raise TypeError(f"read() calls needsmap functions, not {fn.__module__}.{fn.__name__}")
    store = reader()
    try:
        return _cached(fn.__module__, fn.__name__, str(store.store_path), store.generation, args,
                       tuple(sorted(kwargs.items())))
    except StoreError as exc:  # no store yet, or one from an older needsmap: say what to do
        st.error(f"The data store cannot be read: {exc}")
        st.stop()
        raise  # st.stop() ends the run; this line is for type checkers


@st.cache_resource(show_spinner=False)
def _user_store(path: str, database_url: str) -> UserStore:
    settings = load_settings()
    store = open_user_store(settings)
    # Streamlit turns Ctrl-C and SIGTERM into a normal exit, so exit handlers run; Streamlit
    # releases cached resources only when they are cleared, never at shutdown. close() finishes
    # the queued writes and checkpoints the DuckDB file, leaving no journal to replay.
    atexit.register(store.close)
    if settings.backup_dir and store.backend == "duckdb":  # no other process can back it up
        stop_backups = backup.start_backups(store, settings.backup_dir,
                                            settings.backup_hours * 3600)
        atexit.register(stop_backups.set)  # runs before close: last registered, first run
    return store


def user_store() -> UserStore:
    """The process's user store (needs, notes, accounts, decisions), opened once per configured
    store through open_user_store; only the app process opens it. Opening it also starts the
    daily retention run."""
    settings = load_settings()
    try:
        store = _user_store(str(settings.user_store_path), settings.database_url or "")
    except StoreUnavailable:  # a server away for a moment: each page action says so itself
        raise
    except StoreError as exc:  # the file will not open: say what to do, on every page
        st.error("The residents' records cannot be opened, so the app cannot run until this is "
                 "put right. " + escape_markdown(str(exc)))
        st.stop()
        raise  # st.stop() ends the run; this line is for type checkers
    _daily_retention(str(settings.user_store_path), settings.database_url or "")
    _outbox_worker(str(settings.user_store_path), settings.database_url or "", settings.smtp_url or "")
    return store


RETENTION_CHECK_SECONDS = 3600.0


@st.cache_resource(show_spinner=False)
def _daily_retention(path: str, database_url: str) -> chores.Chore:
    """One thread per app process applies the retention rule at start and then once a day.

    It checks every hour; the day's marker in the store (``retention.apply(once_a_day=True)``)
    makes every other check, and every other process on a shared database, do nothing.
    """
    store, rule = _user_store(path, database_url), retention.Rule.from_settings(load_settings())
    return chores.repeat(store, lambda: retention.apply(store, rule, once_a_day=True),
                         RETENTION_CHECK_SECONDS, "retention")


@st.cache_resource(show_spinner=False)
def _outbox_worker(path: str, database_url: str, smtp_url: str) -> chores.Chore | None:
    """One thread per app process sends residents' emails from the outbox (none without a mail
    server: messages then wait). On a shared database each process claims a message before
    sending it, so two processes never send one message twice."""
    store = _user_store(path, database_url)
    worker = mail.start_worker(store, load_settings())
    if worker is not None:
        atexit.register(worker.set)
    return worker


@st.cache_resource(show_spinner=False)
def configure_logging(level: str) -> None:
    """needsmap's own log lines (NEEDSMAP_LOG_LEVEL) beside Streamlit's, once per process."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("needsmap")
    root.addHandler(handler)
    root.setLevel(level)


def legend_html(classes: list[colours.LegendClass], title: str) -> str:
    """A map key as a real list (screen readers announce how many classes), each class in words."""
    rows = "".join(
        f'<li style="display:flex;align-items:center;gap:.5em;margin:2px 0">'
        f'<span aria-hidden="true" style="display:inline-block;flex:none;width:1.4em;height:1em;'
        f'background:{c.colour};border:1px solid #555"></span><span>{html.escape(c.label)}</span></li>'
        for c in classes
    )
    name = html.escape(title)
    return (f'<div><strong>{name}</strong><ul aria-label="{name}" '
            f'style="list-style:none;padding:0;margin:.2em 0">{rows}</ul></div>')


def bivariate_legend_html(classes: list[dict[str, Any]], *, what: str) -> str:
    """The 3x3 key as a table: need left to right, provision top (high) to bottom; each cell
    names its class in words on its colour ("high need, low provision"), so colour is never
    the only carrier of meaning, in black or white ink, whichever reads better on it."""
    cell = "min-width:4.6em;border:1px solid #555;padding:.25em;font-size:.75em;line-height:1.15"
    small = "font-size:.8em;line-height:1.1;font-weight:normal"
    rows = []
    for label, provision in (("High provision", 3), ("Middle provision", 2), ("Low provision", 1)):
        cells = "".join(
            f'<td style="{cell};background:{c["colour"]};color:{colours.text_colour(c["colour"])}">'
            + ",<br>".join(html.escape(part) for part in c["label"].split(", ")) + "</td>"
            for c in classes if c["provision_class"] == provision)
        rows.append(f'<tr><th scope="row" style="{small};text-align:right;padding-right:.4em">'
                    f'{label}</th>{cells}</tr>')
    header = '<tr><td></td>' + "".join(
        f'<th scope="col" style="{small};text-align:center">{t}</th>'
        for t in ("Low need", "Middle need", "High need")) + "</tr>"
    name = f"Map key: need and provision of {html.escape(what)}"
    grid = (f'<table aria-label="{name}" style="border-collapse:separate;border-spacing:2px;'
            f'margin:.4em 0;width:auto">{"".join(rows)}{header}</table>')
    return (f'<div><strong>Need and provision of {html.escape(what)}</strong>'
            '<div style="font-size:.8em">Need rises to the right, provision falls downwards.</div>'
            f'{grid}<div style="font-size:.85em">Darkest blue, bottom right: '
            "<b>high need, low provision</b> (the biggest gaps). Pink: high need, services nearby. "
            "Teal: few services, lower need. Grey: low need, services nearby.</div></div>")


AREA = "area_code"
PICK_AREA = "pick_area"  # the picker's widget key
AREA_QUERY = "area"      # ?area=E54000057: a link that opens the same area
AREA_LABEL = "Area: an authority, combined authority, NHS area or region (type to search)"


PICK_SEVERAL = "pick_several"  # the "or choose several authorities" widget's key
SEVERAL_LABEL = "Or choose several authorities together (type to search)"


def remembered_area(codes: list[str], query: str | None, session: dict[str, Any]) -> str:
    """The area a page opens on: the link's (``?area=``), else the one chosen on an earlier
    page (``AREA``, or an authority remembered as ``LAD``), else the first offered."""
    for wanted in (query, session.get(AREA), session.get(LAD)):
        if wanted in codes:
            return wanted
    return codes[0]


def listed_area(text: str | None, codes: list[str], authorities: list[str]) -> tuple[str, list[str]] | None:
    """What a link's or an earlier page's area text names when it is not one offered code: any
    area the CLI's ``--area`` takes ("Bolton, Wigan", "E08000001,E08000010", "Trafford"), as
    (the code the one-area picker shows, the authorities of a list or []); None if it names
    nothing in the store, or a list of anything but authorities."""
    if not text or not text.strip():
        return None
    try:
        area = read(areas.resolve, text)
    except ConfigError:
        return None
    if area.kind == "group":
        members = area.code.split("+")
        return (members[0], members) if set(members) <= set(authorities) else None
    return (area.code, []) if area.code in codes else None


def several_text(codes: list[str]) -> str:
    """How a list of authorities is written in ``?area=`` and remembered: the codes, comma-separated
    (``--area`` reads the same)."""
    return ",".join(codes)


def _area_chosen() -> None:
    """The picker changed: remember the area for the other pages and put it in the address,
    before the page runs again (so the address never takes the old choice back). One area
    chosen leaves any list of several."""
    st.session_state[AREA] = st.session_state[PICK_AREA]
    st.session_state[PICK_SEVERAL] = []
    st.query_params[AREA_QUERY] = st.session_state[PICK_AREA]


def _several_chosen() -> None:
    """The list of several authorities changed: it is the area (one picked: that authority;
    none: the one-area picker's again), remembered and in the address."""
    picked = list(st.session_state[PICK_SEVERAL])
    text = several_text(picked) if picked else st.session_state[PICK_AREA]
    st.session_state[AREA] = text
    st.query_params[AREA_QUERY] = text


def choose_area(container: Any = st.sidebar) -> areas.Area | None:
    """The one area picker every page uses (type to search): authorities, combined authorities,
    NHS ICBs and sub-ICB locations, regions and England, as far as the store holds all their
    small areas, grouped by kind and labelled with their size; or several authorities chosen
    together. The choice is kept for the other pages and in the address (``?area=<code>``, or
    the codes of several comma-separated; the address also takes any name ``--area`` takes),
    so a link opens the same area."""
    options = read(maps.area_choices)
    if options.empty:
        st.error("The store has no area with deprivation figures yet: run "
                 "`needsmap ingest all --area <authority, ICB or region>`.")
        return None
    codes = list(options["code"])
    labels = dict(zip(options["code"], options["label"]))
    authorities = list(options.loc[options["kind"] == "lad", "code"])
    names = dict(zip(options["code"], options["name"]))
    query = st.query_params.get(AREA_QUERY)
    # the link's area, else the last page's, else an authority remembered: one code, or a list
    wanted, several, text = None, [], None
    for candidate in (query, st.session_state.get(AREA), st.session_state.get(LAD)):
        found = (candidate, []) if candidate in labels else listed_area(candidate, codes, authorities)
        if found is not None:
            (wanted, several), text = found, candidate
            break
        if candidate is not None and candidate is query:
            container.warning(f"The link's area {escape_markdown(query)} is not in this store; "
                              "choose one below.")
    if wanted is None:
        wanted, text = codes[0], codes[0]
    # Each page's picker is a widget of its own (a new page starts it afresh), so it opens at
    # the remembered area by its index; a change on the page updates that memory first.
    chosen = container.selectbox(AREA_LABEL, codes, index=codes.index(wanted), format_func=labels.get,
                                 key=PICK_AREA, on_change=_area_chosen)
    if several_text(st.session_state.get(PICK_SEVERAL) or []) not in (text, several_text(several)):
        st.session_state[PICK_SEVERAL] = several  # a link or another page chose: show its list
    picked = container.multiselect(SEVERAL_LABEL, authorities, format_func=names.get,
                                   key=PICK_SEVERAL, on_change=_several_chosen,
                                   placeholder="Authorities, e.g. Bolton and Wigan")
    text = several_text(picked) if picked else chosen
    st.session_state[AREA] = text
    if st.query_params.get(AREA_QUERY) != text:
        st.query_params[AREA_QUERY] = text
    area = read(areas.resolve, text)
    if len(picked) > 1:
        container.caption(f"Looking at {escape_markdown(area.name)} as one area "
                          f"({len(area.lsoas):,} small areas); clear the list to use the choice above.")
    if area.kind == "lad":
        st.session_state[LAD] = area.code
    return area


def map_place(area: areas.Area) -> maps.Place:
    """What the map functions draw for an area: an authority by its code (its own wards and
    outline), any bigger area by its small areas."""
    return area.code if area.kind == "lad" else area.lsoas


def caveats() -> None:
    with st.expander("How to read these figures", expanded=False):
        for text in colours.CAVEATS:
            st.markdown(f"- {text}")


# ---------------------------------------------------------------------------- resident voice

SESSION = "voice_session"


@st.cache_resource(show_spinner=False)
def rate_limiter(name: str, limit: int, window: float) -> RateLimiter:
    """One limiter per purpose for the whole process (every session shares it)."""
    return RateLimiter(limit, window)


BROWSER = "voice_browser"
BROWSER_WITHOUT_COOKIE = "browsers-without-cookie"
# Sets the browser cookie in the page itself (a components.v2 component runs in the app's page,
# not an iframe) and says whether the browser kept it.
_KEEP_COOKIE_JS = """
export default function(component) {
  const { data, setStateValue } = component;
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = data.pair + '; ' + data.attributes + secure;
  const kept = navigator.cookieEnabled &&
    document.cookie.split(';').some((c) => c.trim() === data.pair);
  setStateValue('kept', kept);
}
"""
_keep_cookie = components_v2.component("needsmap_browser_cookie", js=_KEEP_COOKIE_JS)


@st.cache_resource(show_spinner=False)
def _browser_key(path: str, database_url: str) -> str:
    return browsers.signing_key(user_store(), load_settings())


def browser_key() -> str:
    """The key this store's browser cookies are signed with (one per configured store)."""
    settings = load_settings()
    return _browser_key(str(settings.user_store_path), settings.database_url or "")


def request_cookie() -> str | None:
    """The browser cookie as the browser sent it when this session began, if it did."""
    try:
        return st.context.cookies.get(browsers.COOKIE)
    except Exception:  # noqa: BLE001 - no request behind the run (a bare script run)
        return None


def _browser() -> dict[str, Any]:
    """This session's browser: its token and whether the token came in the browser's cookie
    (else it is new and the page asks the browser to keep it)."""
    if BROWSER not in st.session_state:
        token = browsers.verify(browser_key(), request_cookie())
        st.session_state[BROWSER] = {"token": token or browsers.new_token(),
                                     "from_cookie": token is not None}
    return st.session_state[BROWSER]


def cookie_state() -> str:
    """'kept' (the browser sent its cookie, or just showed it keeps it), 'new' (not known yet)
    or 'refused' (the browser would not keep it)."""
    found = _browser()
    if found["from_cookie"]:
        return "kept"
    state = st.session_state.get("browser-cookie")
    kept = state.get("kept") if hasattr(state, "get") else None
    return {True: "kept", False: "refused"}.get(kept, "new")


def keep_browser_cookie(days: int) -> None:
    """Ask the browser to keep its cookie (for ``days``) when it did not send one."""
    found = _browser()
    if found["from_cookie"]:
        return
    pair = f"{browsers.COOKIE}={browsers.sign(browser_key(), found['token'])}"
    _keep_cookie(key="browser-cookie", data={"pair": pair,
                                             "attributes": browsers.cookie_attributes(days)},
                 default={"kept": None}, height=0, on_kept_change=lambda: None)


def session_id() -> str:
    """What "affects me too" and the report limit count by: this browser's random token, kept
    in its cookie so a reload does not start afresh. Browsers that refuse the cookie share one."""
    if cookie_state() == "refused":
        return BROWSER_WITHOUT_COOKIE
    return _browser()["token"]


def signed_in_browser() -> str | None:
    """The browser's token when it came in its cookie (so a reload keeps it), else None."""
    found = _browser()
    return found["token"] if found["from_cookie"] else None


# What a page action can meet and say in plain words: bad input, the wrong role, or a shared
# database that cannot be reached just now (its message says whether anything was saved).
REFUSED = (ValidationError, PermissionDenied, StoreUnavailable)


def submission_key(form: str) -> str:
    """One key per filled-in form, kept while it is sent again: the store saves it once."""
    return st.session_state.setdefault(f"submission:{form}", new_submission_key())


def forget_submission(form: str) -> None:
    """The form was saved: the next one gets a new key."""
    st.session_state.pop(f"submission:{form}", None)


SHOWN_PROBLEMS = 10


def problem_lines(exc: Exception, shown: int = SHOWN_PROBLEMS) -> list[str]:
    """A refused action as Markdown lines: the message, then its first ``shown`` problems and
    how many more (a 2,001-line alert helps no one), user text made inert."""
    problems = list(getattr(exc, "problems", None) or [])
    head = str(exc).split("\n", 1)[0].rstrip(".")
    lines = [f"**{escape_markdown(head[:1].upper() + head[1:])}.**"]
    lines += [f"- {escape_markdown(p)}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"- and {len(problems) - shown:,} more: fix these first, then try again.")
    return lines


def show_problems(exc: Exception) -> None:
    """A refused action in plain words, each problem on its own line."""
    st.error("\n".join(problem_lines(exc)))


# Streamlit's Markdown turns "->", ">=", "--" and "~=" into arrows, signs and dashes after any
# escaping, and drops leading spaces; user text therefore goes into plain HTML (escaped, line
# breaks and spaces kept) so what is shown is what is stored, character for character.
_LITERAL_STYLE = "white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;"
_CAPTION_STYLE = _LITERAL_STYLE + " font-size: 0.875rem; opacity: 0.65;"


def show_literal(text: object, *, caption: bool = False, bold: bool = False,
                 after_html: str = "") -> None:
    """Show user text exactly as stored (hidden characters as codes such as [U+202E]).

    ``after_html`` is markup the app itself builds (e.g. an evidence link from ``safe_url``)."""
    inner = escape_html(str(text))
    if bold:
        inner = f"<strong>{inner}</strong>"
    style = _CAPTION_STYLE if caption else _LITERAL_STYLE
    st.html(f'<div class="nm-literal" style="{style}">{inner}{after_html}</div>')


PRIVACY_PAGE, PRIVACY_URL = "views/privacy.py", "privacy"


def page_link(page: str, url_path: str, label: str, icon: str) -> None:
    """A link to one of the app's pages (a plain link to its address when a page runs outside
    the app's navigation, as in page tests)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.markdown(f"[{label}](/{url_path})")


def privacy_link(label: str) -> None:
    """A link to the privacy notice."""
    page_link(PRIVACY_PAGE, PRIVACY_URL, label, ":material/shield_person:")
