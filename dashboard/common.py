"""What every page shares: the store reader, cached reads keyed by store generation, wording.

Pages call ``needsmap.mapdata`` through ``read()`` and hold no SQL. Small results (per
authority GeoJSON, tables) sit in ``st.cache_data`` keyed by the store's generation, so a new
build shows up without a restart; the reader itself is a ``st.cache_resource``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from needsmap import mapdata
from needsmap.config import load_settings
from needsmap.needs import RateLimiter
from needsmap.privacy import escape_markdown
from needsmap.store import StoreReader
from needsmap.userstore import UserStore, open_user_store

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
def _cached(name: str, path: str, generation: object, args: tuple, kwargs: tuple) -> Any:
    return getattr(mapdata, name)(_reader(path).cursor(), *args, **dict(kwargs))


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a ``needsmap.mapdata`` function on a fresh cursor, cached per store generation."""
    store = reader()
    return _cached(fn.__name__, str(store.store_path), store.generation, args,
                   tuple(sorted(kwargs.items())))


def legend_html(classes: list[mapdata.LegendClass], title: str) -> str:
    rows = "".join(
        f'<div style="display:flex;align-items:center;gap:.5em;margin:2px 0">'
        f'<span style="display:inline-block;width:1.4em;height:1em;background:{c.colour};'
        f'border:1px solid #555"></span><span>{c.label}</span></div>'
        for c in classes
    )
    return f'<div role="list" aria-label="{title}"><strong>{title}</strong>{rows}</div>'


def choose_authority(container: Any = st.sidebar) -> str | None:
    """Authority picker (type to search), remembered across pages."""
    lads = read(mapdata.authorities)
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


def caveats() -> None:
    with st.expander("How to read these figures", expanded=False):
        for text in mapdata.CAVEATS:
            st.markdown(f"- {text}")


# ---------------------------------------------------------------------------- resident voice

SESSION = "voice_session"


@st.cache_resource(show_spinner=False)
def _user_store(path: str, database_url: str) -> UserStore:
    return open_user_store(load_settings())


def user_store() -> UserStore:
    """The process's user store (needs, notes, accounts), opened once through open_user_store."""
    settings = load_settings()
    return _user_store(str(settings.user_store_path), settings.database_url or "")


@st.cache_resource(show_spinner=False)
def rate_limiter(name: str, limit: int, window: float) -> RateLimiter:
    """One limiter per purpose for the whole process (every session shares it)."""
    return RateLimiter(limit, window)


def session_id() -> str:
    """A random id for this browser session: what rate limits and "affects me too" count by."""
    if SESSION not in st.session_state:
        st.session_state[SESSION] = uuid.uuid4().hex
    return st.session_state[SESSION]


def show_problems(exc: Exception) -> None:
    """A refused action in plain words, each problem on its own line, user text made inert."""
    message = getattr(exc, "problems", None)
    head = str(exc).split("\n", 1)[0]
    lines = [f"**{escape_markdown(head[:1].upper() + head[1:])}.**"]
    lines += [f"- {escape_markdown(p)}" for p in (message or [])]
    st.error("\n".join(lines))


def _use_app_navigation() -> None:
    """Make every session run app.py's st.navigation, even the server's first visitor's.

    Streamlit treats a ``pages/`` folder beside the entry script as an old-style multipage app
    until some run of the entry script calls st.navigation. Until then a visitor arriving on a
    deep link (…/report) gets the page alone: no layout, sign-in or Residents section, and every
    file in pages/ listed. The first import of this module (in that first run) switches the
    process to st.navigation and runs again.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_app_navigation()
