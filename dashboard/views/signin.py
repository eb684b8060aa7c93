"""Sign in (or see your account): single sign-on when configured, else a local password.

Residents never need an account; community groups, moderators and commissioners do.
"""

from __future__ import annotations

import streamlit as st

from dashboard.auth import (
    current_user,
    local_signin_allowed,
    oidc_providers,
    sign_out,
    signed_in,
    try_password,
)
from needsmap.voice.accounts import ROLE_LABELS
from needsmap.voice.privacy import escape_markdown

WHAT_YOU_CAN_DO = {
    "report": ("views/report_need.py", "Report a need"),
    "annotate": ("views/notes.py", "Add community notes about an area"),
    "facilitate": ("views/facilitator.py", "Enter needs gathered at a workshop or on paper"),
    "moderate": ("views/moderation.py", "Approve, edit or reject new reports and notes"),
    "export": ("views/map.py", "See exact counts and every approved need on the map; download them"),
}

user = current_user()
if signed_in(user):
    st.title("Your account")
    group = f" for **{escape_markdown(user.group_name)}**" if user.group_name else ""
    st.markdown(f"You are signed in as **{escape_markdown(user.display_name or user.username)}**, "
                f"{ROLE_LABELS.get(user.role, user.role)}{group}.")
    if user.role == "public":
        st.info("Your sign-in has no role here yet. Ask the person who runs this site to give "
                "your email address a role (`needsmap users add EMAIL --role ... --single-sign-on`).")
    st.markdown("What you can do:")
    for action, (page, label) in WHAT_YOU_CAN_DO.items():
        if user.can(action):
            st.page_link(page, label=label, icon=":material/arrow_forward:")
    if st.button("Sign out"):
        sign_out(user)
    st.stop()

st.title("Sign in")
st.markdown("You do **not** need an account to report a need. Community groups, moderators and "
            "commissioners sign in here.")
for provider in oidc_providers():
    label = f"Sign in with {provider}" if provider else "Sign in with your organisation's account"
    if st.button(label, type="primary", key=f"oidc-{provider or 'default'}"):
        st.login(provider)
if local_signin_allowed():
    if oidc_providers():
        st.caption("Or with a local account:")
    with st.form("local-signin"):
        username = st.text_input("Username", max_chars=200, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=200,
                                 autocomplete="current-password")
        sent = st.form_submit_button("Sign in", type="primary")
    if sent:
        who, problem = try_password(username, password)
        if problem:
            st.error(problem)
        else:
            st.rerun()
