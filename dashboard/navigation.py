"""The app's pages and its own accessible navigation (WCAG 2.2 AA).

Streamlit's grouped sidebar navigation puts ``<li>`` items outside a list, which screen readers
cannot count or skip; it is hidden (``st.navigation(position="hidden")``, which still routes
addresses) and the sidebar shows our links instead, each group under a real heading. The Map
is not the default page, so ``/map`` typed as an address opens it (a default page is served
only at ``/``); the address ``/`` opens the Map too. Every page also gets a strong, visible
keyboard focus (Streamlit itself puts a "Skip to main content" link first).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth
from needsmap.voice import heard
from needsmap.voice.accounts import User

PAGES = Path(__file__).resolve().parent / "views"
# Dark blue on the light theme: over 3:1 against white and the grey sidebar (WCAG 1.4.11, 2.4.7).
_CSS = "<style>:focus-visible{outline:3px solid #1a4f9c !important;outline-offset:2px !important}</style>"


def sections(user: User) -> dict[str, list[st.Page]]:
    """The pages in the menu, by group; what the Residents group holds depends on the role."""
    return {
        "Explore": [
            st.Page(PAGES / "map.py", title="Map", url_path="map"),
            st.Page(PAGES / "area.py", title="Area", url_path="area"),
            st.Page(PAGES / "national.py", title="National map", url_path="national"),
        ],
        "Residents": auth.resident_pages(user),
        "Analysis": [
            st.Page(PAGES / "gaps.py", title="Gaps", url_path="gaps"),
            st.Page(PAGES / "reports.py", title="Reports", url_path="reports"),
            st.Page(PAGES / "review.py", title="Review", url_path="review"),
            *([st.Page(PAGES / "heard.py", title="Who has been heard", url_path="heard")]
              if user.can(heard.PERMISSION) else []),
        ],
        "About the data": [
            st.Page(PAGES / "sources.py", title="Sources", url_path="sources"),
        ],
    }


def start(user: User) -> st.Page:
    """Route the address to its page, draw the skip link and the menu; the page to run."""
    groups = sections(user)
    map_page = groups["Explore"][0]

    def home() -> None:  # "/": the Map, under its own address
        st.switch_page(map_page)

    root = st.Page(home, title="Map", url_path="home", default=True, visibility="hidden")
    page = st.navigation([root, *(p for pages in groups.values() for p in pages)],
                         position="hidden")
    focus_style()
    menu(groups)
    return page


def focus_style() -> None:
    """A strong outline on whatever has the keyboard focus (Streamlit's own is faint on some
    widgets). Streamlit already puts a "Skip to main content" link first on every page."""
    st.html(_CSS)


def menu(groups: dict[str, list[st.Page]]) -> None:
    """Each group of pages under a heading, as links that keep the session (and sign-in)."""
    with st.sidebar.container(key="site-menu"):
        for heading, pages in groups.items():
            st.subheader(heading, anchor=False)
            for p in pages:
                st.page_link(p)
