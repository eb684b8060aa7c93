"""Privacy rules for residents' reports, in one place so every view and export applies the same.

- A resident's exact point is stored but never shown or exported publicly. Public views place a
  report at its LSOA (a fixed place, not a random jitter that averages out over many reports).
- Public counts of reports per area below the threshold (default 10) read "fewer than 10";
  commissioners and moderators see exact counts.
"""

from __future__ import annotations

import html
import re

PUBLIC_LOCATION_NOTE = (
    "We keep the exact place you give private. On public maps your report is shown only as part "
    "of the neighbourhood (LSOA, about 1,500 residents) it falls in, never at the exact spot."
)


def public_count(n: int, threshold: int) -> str:
    """How a count of reports is shown to the public."""
    if n <= 0:
        return "none"
    if n < threshold:
        return f"fewer than {threshold}"
    return f"{n:,}"


def shown_count(n: int, threshold: int, *, exact: bool) -> str:
    """Exact for commissioners and moderators, suppressed for everyone else."""
    return f"{n:,}" if exact else public_count(n, threshold)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")


def escape_html(text: str | None) -> str:
    """For anything placed in HTML: folium popups and tooltips, reports."""
    return html.escape(text or "", quote=True)


def escape_markdown(text: str | None) -> str:
    """For user text shown with st.markdown: no markup, links or HTML take effect."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "").replace("\n", "  \n")


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+44\s?|0)(?:\d[\s-]?){9,10}(?!\d)")


def redact_contact_details(text: str) -> str:
    """A moderator's first pass: hide email addresses and UK phone numbers in free text."""
    text = _EMAIL.sub("[email removed]", text)
    return _PHONE.sub("[phone removed]", text)
