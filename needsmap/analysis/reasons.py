"""A gap in words: 'IMD decile 1; 3 resident reports on food; nearest food service 2.4 km
(Stretford Food Bank); none within 1 km'.

``gap_table`` returns the parts as columns (each weighted domain's decile, resident reports and
supporters, the nearest service, its distance and whether it is outside the authority or a
charity's registered address, and the services within reach). ``describe`` words them, and it
is the only place that does: the resident count in the sentence is whatever the viewer may see,
given to it already protected (exact for commissioners, "fewer than 10" under a simple threshold,
or the disclosure-controlled figure that reports and downloads publish), so a sentence never
has to be taken apart again to hide a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from needsmap.terms.iod import DOMAINS, SHORT_LABELS
from needsmap.terms.taxonomy import label

RESIDENTS = "residents"  # the weight key of residents' reports among the need measures


@dataclass(frozen=True)
class FewerThan:
    """A count shown only as below a threshold."""
    threshold: int


HIDDEN = None  # a count withheld by disclosure control
Shown = int | FewerThan | None


def format_distance(metres: float | None) -> str:
    """'650 m' under 1 km (to the nearest 10 m, halves up), else '2.4 km'."""
    if metres is None or pd.isna(metres):
        return "no service found"
    tens = math.floor(metres / 10 + 0.5) * 10
    if tens < 1000:
        return f"{tens:.0f} m"
    return f"{metres / 1000:.1f}".removesuffix(".0") + " km"


def reason_domains(weights: Mapping[str, float]) -> list[str]:
    """The weighted domains in the order a sentence names them: heaviest first."""
    return sorted((d for d in weights if d != RESIDENTS and weights[d] > 0),
                  key=lambda d: (-weights[d], DOMAINS.index(d)))


def resident_words(reports: Shown, what: str, supporters: int | None = None) -> str:
    """The residents' part: '3 resident reports on food (2 more said it affects them too)'.

    ``supporters`` is given only to viewers who see exact counts."""
    if reports is HIDDEN:
        return f"a few resident reports on {what} (number hidden to protect residents)"
    if isinstance(reports, FewerThan):
        return f"fewer than {reports.threshold} resident reports on {what}"
    if reports == 0:
        return f"no resident reports on {what} yet"
    text = f"{reports:,} resident report{'' if reports == 1 else 's'} on {what}"
    if supporters:
        text += f" ({supporters:,} more said it affects them too)"
    return text


def nearest_words(row: Mapping[str, object], what: str, reach: str) -> list[str]:
    """The provision parts: the nearest service and how many are within reach."""
    metres = row.get("nearest_m")
    if metres is None or pd.isna(metres):
        return [f"no {what} service in the loaded lists"]
    about = [str(row["nearest_name"])] if _present(row.get("nearest_name")) else []
    if _true(row.get("nearest_outside")):
        about.append("outside the area")
    if _true(row.get("nearest_head_office")):
        about.append("a charity's registered address")
    nearest = f"nearest {what} service {format_distance(float(metres))}"
    if about:
        nearest += f" ({'; '.join(about)})"
    within = int(row.get("within_radius") or 0)
    return [nearest, f"none within {reach}" if within == 0 else f"{within} within {reach}"]


def sentence(row: Mapping[str, object], *, category: str, domains: Sequence[str], reach: str,
             reports: Shown, supporters: int | None = None) -> str:
    """One small area's gap in words."""
    what = label(category).lower()
    parts = [f"{SHORT_LABELS[d]} decile {int(row[f'{d}_decile'])}" for d in domains
             if _present(row.get(f"{d}_decile"))]
    parts.append(resident_words(reports, what, supporters))
    parts += nearest_words(row, what, reach)
    return "; ".join(parts)


def describe(table: pd.DataFrame, *, category: str, weights: Mapping[str, float],
             radius_m: float, shown: Mapping[str, object] | pd.Series | None = None,
             suppress_below: int | None = None) -> pd.Series:
    """Every row of a gap table in words, with resident counts as this viewer may see them.

    ``shown`` maps LSOA codes to published counts (missing or NA = hidden; absent = 0), as
    ``voice.blurred_needs`` protects them. Without it, ``suppress_below`` shows counts under
    the threshold as "fewer than N"; with neither, counts are exact and supporters are named.
    """
    domains = reason_domains(weights)
    reach = format_distance(radius_m)
    out = []
    for row in table.to_dict("records"):
        exact = int(row.get("resident_reports") or 0)
        supporters = None
        if shown is not None:
            reports = _published(shown, row["code"])
        elif suppress_below is not None:
            reports = FewerThan(suppress_below) if 0 < exact < suppress_below else exact
        else:
            reports, supporters = exact, int(row.get("resident_supporters") or 0)
        out.append(sentence(row, category=category, domains=domains, reach=reach,
                            reports=reports, supporters=supporters))
    return pd.Series(out, index=table.index, dtype="object")


def _published(shown: Mapping[str, object] | pd.Series, code: str) -> Shown:
    value = shown.get(code, 0)
    return HIDDEN if value is None or pd.isna(value) else int(value)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) \
        and value is not pd.NA and value != ""


def _true(value: object) -> bool:
    return _present(value) and bool(value)
