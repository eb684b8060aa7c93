"""What every page shares: the store reader, cached reads keyed by store generation, wording.

Pages call ``needsmap.mapdata`` through ``read()`` and hold no SQL. Small results (per
authority GeoJSON, tables) sit in ``st.cache_data`` keyed by the store's generation, so a new
build shows up without a restart; the reader itself is a ``st.cache_resource``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from needsmap import mapdata
from needsmap._errors import StoreError
from needsmap.config import load_settings
from needsmap.store import StoreReader

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
    try:
        return _cached(fn.__name__, str(store.store_path), store.generation, args,
                       tuple(sorted(kwargs.items())))
    except StoreError as exc:  # no store yet, or one from an older needsmap: say what to do
        st.error(f"The data store cannot be read: {exc}")
        st.stop()
        raise  # st.stop() ends the run; this line is for type checkers


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
