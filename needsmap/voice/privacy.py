"""Privacy rules for residents' reports, in one place so every view and export applies the same.

- A resident's exact point is stored but never shown or exported publicly. Public views place a
  report at its LSOA (a fixed place, not a random jitter that averages out over many reports).
- Public counts of reports per area below the threshold (default 10) read "fewer than 10";
  commissioners and moderators see exact counts.
"""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from needsmap.config import Settings
from needsmap.errors import ConfigError

PUBLIC_LOCATION_NOTE = (
    "We keep the exact place you give private. Public maps never show the exact spot. They show "
    "your report only as part of a small area, where about 1,500 people live."
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


# Every character Markdown, Streamlit's extensions (:material/icon:, :red[...], $math$) or HTML
# give a meaning. They become numeric character references, which Markdown shows as the
# character itself but never parses; a backslash escape is not enough for Streamlit's icons.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|<>~$&:@=\"']")
# GitHub-flavoured Markdown turns bare web and email addresses into links after parsing, so a
# word joiner (U+2060, invisible) goes where those patterns need their ':', 'www.' or '@'.
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=&#46;)|(?<=&#58;)(?=//)|(?<=&#64;)")


_JS_TEMPLATE_SPECIAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})

# Characters that change how text reads without showing themselves: bidi overrides and
# isolates (U+202E makes "gpj.exe" read "exe.jpg"), zero-width spaces, soft hyphens, byte-order
# marks, other control and format characters, line and paragraph separators, fillers that draw
# nothing. Kept: tab, line breaks, and the joiners that emoji and several scripts are written
# with (U+200C, U+200D), and the tag characters of a flag sequence such as England's.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
_KEPT = {"\t", "\n", "\r", "\u200c", "\u200d"}
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u17b4", "\u17b5"}
_FLAG = re.compile("\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F")


def _hidden(char: str) -> bool:
    if char in _KEPT:
        return False
    return char in _BLANK_LETTERS or unicodedata.category(char) in _HIDDEN_CATEGORIES


def _shown(part: str) -> str:
    return "".join(f"[U+{ord(c):04X}]" if _hidden(c) else c for c in part)


def visible_text(text: str | None) -> str:
    """User text with every hidden character shown as a code such as [U+202E], so what a
    moderator or reader sees is what the text says. Every renderer of user text and links goes
    through this (``escape_markdown``, ``escape_html``, the report's template); the stored text
    is never changed."""
    text = text or ""
    out, at = [], 0
    for flag in _FLAG.finditer(text):
        out += [_shown(text[at:flag.start()]), flag.group()]
        at = flag.end()
    out.append(_shown(text[at:]))
    return "".join(out)


def escape_html(text: str | None) -> str:
    """For anything placed in HTML: folium popups and tooltips, reports.

    folium writes popup and tooltip HTML inside a JavaScript template string (`...`), where a
    backtick would end the string, ``${...}`` would run code and a backslash escape such as
    ``\\x3c`` would turn back into markup; those characters become HTML entities too.
    """
    return html.escape(visible_text(text), quote=True).translate(_JS_TEMPLATE_SPECIAL)


def escape_markdown(text: str | None) -> str:
    """For user text shown with st.markdown: no markup, links, icons or HTML take effect.

    The text reads the same; line breaks are kept and leading spaces dropped (they would
    start a code block).
    """
    lines = visible_text((text or "").replace("\r\n", "\n")).split("\n")
    escaped = [_MARKDOWN_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", line.lstrip())
               for line in lines]
    return _AUTOLINK.sub("\u2060", "  \n".join(escaped))


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+44\s?|0)(?:\d[\s-]?){9,10}(?!\d)")


def redact_contact_details(text: str) -> str:
    """A moderator's first pass: hide email addresses and UK phone numbers in free text."""
    text = _EMAIL.sub("[email removed]", text)
    return _PHONE.sub("[phone removed]", text)


CONTACT_NOTE = (
    "You do not have to give contact details. Only the moderators who check reports can see "
    "them, and only to ask you about your report. They are never shown on the map or put in any "
    "download."
)
COUNTS_NOTE = (
    "Counts of residents' reports below {threshold} are hidden (\"few\" on the map), and so is "
    "any count that would let a hidden one be worked out from the totals; the same counts appear "
    "in reports and downloads. Commissioners and moderators see exact counts."
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A cell for a CSV download: text that a spreadsheet would run as a formula gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _text_cells(frame: pd.DataFrame, change) -> pd.DataFrame:  # noqa: ANN001
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = [change(v) if isinstance(v, str) else v for v in out[col]]
    return out


def visible_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table for the screen (``st.dataframe``) with hidden characters shown in
    every text cell, as ``visible_text`` shows them elsewhere."""
    return _text_cells(frame, visible_text)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table for any file a spreadsheet may open (CSV, and GeoPackage layers that
    QGIS or ogr2ogr turn into CSV or XLSX): every text cell through ``csv_safe``."""
    return _text_cells(frame, csv_safe)


def safe_url(url: str | None) -> str | None:
    """An http(s) link fit for an href (quotes, brackets and hidden characters encoded), or
    None."""
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    table = {ord(c): f"%{ord(c):02X}" for c in "\"'<>()[] \\`\n\r\t"}
    return "".join(quote(c) if _hidden(c) else c for c in url.translate(table))


def suppress_breakdown(parts: dict[str, int], threshold: int) -> tuple[str, dict[str, str]]:
    """Public wording for a total and its parts (e.g. reports per category in one area).

    Each part below the threshold reads "fewer than N". If exactly one part is hidden while the
    others are shown, an exact total would give it away by subtraction, so the total then
    reads "more than" the sum of the shown parts.
    """
    shown = {k: public_count(v, threshold) for k, v in parts.items() if v > 0}
    hidden = [k for k, v in parts.items() if 0 < v < threshold]
    exact_sum = sum(v for v in parts.values() if v >= threshold)
    total = sum(v for v in parts.values() if v > 0)
    if len(hidden) == 1 and exact_sum:
        return f"more than {exact_sum:,}", shown
    return public_count(total, threshold), shown


DEFAULT_NOTICE = Path(__file__).resolve().parent / "notices" / "privacy.md"
NOTICE_FIELDS = ("contact_days", "rejected_days", "suppress_below")


def privacy_notice(settings: Settings) -> str:
    """The privacy notice as Markdown: the deploying organisation's file
    (NEEDSMAP_PRIVACY_NOTICE) or the one shipped with needsmap, with ``{contact_days}``,
    ``{rejected_days}`` and ``{suppress_below}`` filled in from the settings in force."""
    path = settings.privacy_notice or DEFAULT_NOTICE
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"NEEDSMAP_PRIVACY_NOTICE={path}: cannot read it ({exc})") from exc
    values = {"contact_days": settings.contact_retention_days,
              "rejected_days": settings.rejected_retention_days,
              "suppress_below": settings.suppress_below}
    for name in NOTICE_FIELDS:  # plain replacement: any other braces in the text stay as written
        text = text.replace("{" + name + "}", f"{values[name]:,}")
    return text
