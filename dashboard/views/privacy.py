"""Privacy notice: what is kept about a report, why, for how long and who sees it, and how to
ask for a copy or erasure by the reference number. The text is the deploying organisation's
Markdown file (NEEDSMAP_PRIVACY_NOTICE) or the one shipped with needsmap, with the retention
periods in force filled in (needsmap.voice.privacy.privacy_notice)."""

from __future__ import annotations

import streamlit as st

from needsmap.config import load_settings
from needsmap.errors import ConfigError
from needsmap.voice.privacy import privacy_notice

st.title("Privacy notice")
try:
    notice = privacy_notice(load_settings())
except ConfigError as exc:
    st.error(f"The privacy notice cannot be shown: {exc}. Tell the people who run this site.")
    st.stop()
st.markdown(notice)
