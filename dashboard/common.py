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
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from needsmap.analysis import maps
from needsmap.config import load_settings
from needsmap.errors import StoreError, StoreUnavailable, ValidationError
from needsmap.store import StoreReader, areas
from needsmap.store.users import UserStore, backup, chores, open_user_store
from needsmap.terms import colours
from needsmap.voice import retention
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
    return store


RETENTION_CHECK_SECONDS = 3600.0


@st.cache_resource(show_spinner=False)
def _daily_retention(path: str, database_url: str) -> threading.Event:
    """One thread per app process applies the retention rule at start and then once a day.

    It checks every hour; the day's marker in the store (``retention.apply(once_a_day=True)``)
    makes every other check, and every other process on a shared database, do nothing.
    """
    store, rule = _user_store(path, database_url), retention.Rule.from_settings(load_settings())
    return chores.repeat(store, lambda: retention.apply(store, rule, once_a_day=True),
                         RETENTION_CHECK_SECONDS, "retention")


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
    """The 3x3 key as a table in words: need left to right, provision top (high) to bottom; each
    cell names its class, so colour is never the only carrier of meaning."""
    cell = "width:3.4em;height:2.2em;border:1px solid #555;padding:0"
    small = "font-size:.8em;line-height:1.1;font-weight:normal"
    rows = []
    for label, provision in (("High provision", 3), ("Middle provision", 2), ("Low provision", 1)):
        cells = "".join(
            f'<td title="{html.escape(c["label"])}" style="{cell};background:{c["colour"]}">'
            f'<span style="position:absolute;left:-10000px">{html.escape(c["label"])}</span></td>'
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


def choose_authority(container: Any = st.sidebar) -> str | None:
    """Authority picker (type to search), remembered across pages."""
    lads = read(maps.authorities)
    if lads.empty:
        st.error("The store has no local authority with deprivation figures yet: run "
                 "`needsmap ingest all --area <authority>`.")
        return None
    names = dict(zip(lads["lad_code"], lads["lad_name"]))
    codes = list(names)
    current = st.session_state.get(LAD)
    index = codes.index(current) if current in names else 0
    chosen = container.selectbox("Local authority (type to search)", codes, index=index,
                                 format_func=names.get, key="pick_lad")
    st.session_state[LAD] = chosen
    return chosen


AREA = "area_code"


def choose_area(container: Any = st.sidebar) -> tuple[str, str, maps.Place] | None:
    """Area picker (type to search): authorities, combined authorities, NHS ICBs and sub-ICB
    locations, regions and England, as far as the store holds them. Returns (code, name, what
    maps draw: the authority's code, or the area's LSOAs); an authority is remembered for the
    pages that work on one."""
    options = read(maps.area_choices)
    if options.empty:
        st.error("The store has no area with deprivation figures yet: run "
                 "`needsmap ingest all --area <authority, ICB or region>`.")
        return None
    codes = list(options["code"])
    labels = dict(zip(options["code"], options["label"]))
    current = st.session_state.get(AREA) or st.session_state.get(LAD)
    index = codes.index(current) if current in labels else 0
    chosen = container.selectbox("Area: an authority, combined authority, NHS area or region "
                                 "(type to search)", codes, index=index, format_func=labels.get,
                                 key="pick_area")
    st.session_state[AREA] = chosen
    row = options[options["code"] == chosen].iloc[0]
    if row["kind"] == "lad":
        st.session_state[LAD] = chosen
        return chosen, row["name"], chosen
    return chosen, row["name"], read(areas.resolve, chosen).lsoas


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


def session_id() -> str:
    """A random id for this browser session: what rate limits and "affects me too" count by."""
    if SESSION not in st.session_state:
        st.session_state[SESSION] = uuid.uuid4().hex
    return st.session_state[SESSION]


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


def privacy_link(label: str) -> None:
    """A link to the privacy notice (a plain link to its address when a page runs outside the
    app's navigation, as in page tests)."""
    try:
        st.page_link(PRIVACY_PAGE, label=label, icon=":material/shield_person:")
    except StreamlitPageNotFoundError:
        st.markdown(f"[{label}](/{PRIVACY_URL})")
