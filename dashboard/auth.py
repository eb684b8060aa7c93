"""Who is using the app: single sign-on through ``st.login`` (OIDC) when configured, local
passwords otherwise, and the Residents pages each role gets.

The session remembers only a username; the role is read from the accounts table on every
run, so a changed or removed account takes effect at once. Pages call ``page_for()`` and every
action calls ``needsmap.accounts.require`` again: hiding a page is a courtesy, not the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from dashboard.common import rate_limiter, signed_in_browser, user_store
from needsmap.config import load_settings
from needsmap.voice import accounts, browsers
from needsmap.voice.accounts import PUBLIC, ROLE_LABELS, PermissionDenied, User
from needsmap.voice.privacy import escape_markdown

PAGES = Path(__file__).resolve().parent / "views"
SIGNED_IN = "signed_in_username"
SIGN_IN_PAGE = "views/signin.py"
# Failed-password throttle, per source (an address, else a browser's cookie), never per account.
FAILURES_PER_SOURCE = (5, 300.0)  # wrong passwords from one source, per 5 minutes


def oidc_section() -> dict[str, Any] | None:
    """The ``[auth]`` section of .streamlit/secrets.toml, or None when OIDC is not set up."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets file at all
        return None
    return dict(section) if section else None


def oidc_providers() -> list[str | None]:
    """Provider names for ``st.login``: None for a single unnamed provider."""
    section = oidc_section() or {}
    named = [k for k, v in section.items() if isinstance(v, dict) and "client_id" in v]
    return named or ([None] if "client_id" in section else [])


def _oidc_user() -> dict[str, Any]:
    if not oidc_section():
        return {}
    info = st.user.to_dict() if hasattr(st.user, "to_dict") else dict(st.user)
    return info if info.get("is_logged_in") else {}


def current_user() -> User:
    """The signed-in user with their current role, else the public (a resident)."""
    store = user_store()
    name = st.session_state.get(SIGNED_IN)
    if name:
        user = accounts.account(store, name)
        if user is not None:
            return user
        del st.session_state[SIGNED_IN]
    oidc = _oidc_user()
    if oidc.get("email"):
        return accounts.user_for_email(store, oidc["email"])
    return PUBLIC


def signed_in(user: User) -> bool:
    return user is not PUBLIC


def resident_pages(user: User) -> list[st.Page]:
    """The "Residents" section of the navigation for this user."""
    pages = [
        st.Page(PAGES / "report_need.py", title="Report a need", url_path="report"),
        st.Page(PAGES / "notes.py", title="Needs and community notes", url_path="notes"),
        st.Page(PAGES / "priorities.py", title="Priorities", url_path="priorities"),
        st.Page(PAGES / "track.py", title="Track my report", url_path="track"),
        st.Page(PAGES / "privacy.py", title="Privacy notice", url_path="privacy"),
    ]
    if user.can("facilitate"):
        pages.append(st.Page(PAGES / "facilitator.py", title="Workshop entry", url_path="workshop"))
    if user.can("moderate"):
        pages.append(st.Page(PAGES / "moderation.py", title="Moderation", url_path="moderation"))
    pages.append(st.Page(PAGES / "signin.py", title="Your account" if signed_in(user) else "Sign in",
                         url_path="signin"))
    return pages


def sidebar_status(user: User) -> None:
    """Who is signed in, under the navigation."""
    if signed_in(user):
        st.sidebar.caption(f"Signed in as **{escape_markdown(user.display_name or user.username)}** "
                           f"({ROLE_LABELS.get(user.role, user.role)}).")


def page_for(user: User, action: str, who: str) -> User:
    """Stop the page unless ``user`` may do ``action``; ``who`` names the roles in plain words."""
    try:
        return accounts.require(user, action)
    except PermissionDenied:
        st.warning(f"This page is for {who}. Sign in with an account that has that role.")
        sign_in_link()
        st.stop()
        raise  # st.stop() raises; this line is never reached


def sign_in_link() -> None:
    try:
        st.page_link(SIGN_IN_PAGE, label="Sign in", icon=":material/login:")
    except StreamlitPageNotFoundError:  # the page was run outside the app's navigation
        st.caption("Use **Sign in** in the menu.")


def sign_out(user: User) -> None:
    if st.session_state.pop(SIGNED_IN, None) is None and _oidc_user():
        st.logout()
    st.rerun()


def sign_in_source() -> str:
    """What sign-in failures count against: the client's address (from X-Forwarded-For when
    the connection comes from a proxy named in NEEDSMAP_TRUSTED_PROXIES), else the browser's
    cookie, which a reload keeps; browsers that have shown no cookie share one count."""
    try:
        forwarded = st.context.headers.get_all("X-Forwarded-For")
    except Exception:  # noqa: BLE001 - no request behind the run
        forwarded = []
    peer = getattr(st.context, "ip_address", None)
    address = browsers.client_address(peer if isinstance(peer, str) else None,
                                      [h for h in forwarded if isinstance(h, str)],
                                      load_settings().trusted_proxies)
    return browsers.throttle_source(address, signed_in_browser())


def try_password(username: str, password: str) -> tuple[User | None, str | None]:
    """Check a local password, throttled; (user, None) or (None, message)."""
    username = username.strip()
    if not username or not password:
        return None, "Type your username and password."
    # Only failures count, and only against where they come from: a correct sign-in never
    # uses up a limit, and wrong passwords from elsewhere never lock an account's owner out.
    failures = rate_limiter("signin-failures", *FAILURES_PER_SOURCE)
    source = sign_in_source()
    if failures.blocked(source):
        if source == browsers.throttle_source(None, None):
            return None, ("Too many sign-in attempts from browsers that have not kept this "
                          "site's cookie. Reload the page (allowing cookies for this site), then "
                          "try again, or wait a few minutes.")
        return None, "Too many sign-in attempts. Wait a few minutes, then try again."
    user = accounts.authenticate(user_store(), username, password)
    if user is None:
        failures.record(source)
        return None, "That username and password do not match an account."
    st.session_state[SIGNED_IN] = user.username
    return user, None


def local_signin_allowed() -> bool:
    return load_settings().local_signin or not oidc_providers()
