"""needsmap dashboard: `streamlit run dashboard/app.py` (see `make serve`).

Pages are grouped: "Explore", "Residents", "Analysis" and "About the data" (``navigation.py``
builds the menu); one module per page in ``views/`` (not ``pages/``: Streamlit would treat
that folder as an old-style multipage app and serve a deep link such as /gaps without this
navigation, sign-in or layout). The Residents pages
each role may use come from ``auth.resident_pages`` (each page checks the role again itself).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Streamlit's own table toolbar and clipboard copy would hand residents' and commissioners'
# words to a spreadsheet raw, where =, +, -, @ run as formulas; tables offer the app's own CSV
# buttons instead (privacy.spreadsheet_safe). .streamlit/config.toml says so; this holds when
# the server was started without it (the option reaches the browser at the start of a run).
if not st.get_option("client.disableDataExport"):
    st.set_option("client.disableDataExport", True)
    st.rerun()

st.set_page_config(page_title="needsmap", layout="wide")

from dashboard import auth  # noqa: E402 - needs the path set above
from dashboard import navigation  # noqa: E402
from dashboard.common import configure_logging, keep_browser_cookie  # noqa: E402
from needsmap.config import load_settings  # noqa: E402

configure_logging(load_settings().log_level)

user = auth.current_user()
page = navigation.start(user)
auth.sidebar_status(user)
with st.sidebar:  # the cookie limits count by, kept as long as contact details are
    keep_browser_cookie(load_settings().contact_retention_days)
page.run()
