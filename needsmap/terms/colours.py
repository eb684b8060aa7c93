"""Colours, legends and caveats: one set of rules for every map, key and report.

Palettes are colour-blind-safe (viridis for deciles and scores, a Stevens-style 3x3 scheme
for need against provision); every class also has words, so colour never carries meaning alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

# Ten colour-blind-safe steps (viridis), decile 1 (most deprived) darkest.
DECILE_COLOURS: tuple[str, ...] = (
    "#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6dcd59", "#b4de2c", "#fde725",
)
SCORE_CLASSES = 5
SCORE_COLOURS: tuple[str, ...] = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
NO_DATA_COLOUR = "#d9d9d9"

CAVEATS: tuple[str, ...] = (
    "The Indices of Deprivation rank small areas against each other: they show which areas "
    "are more deprived than others, not by how much, and not amounts of money or people.",
    "Not every person in a deprived area is deprived, and many deprived people live in less "
    "deprived areas (the 'ecological fallacy').",
    "2025 figures use 2021 areas (LSOA 2021); 2019 figures use 2011 areas, so some areas "
    "changed shape between the two releases.",
)


@dataclass(frozen=True)
class LegendClass:
    value: int
    colour: str
    label: str


def decile_legend() -> list[LegendClass]:
    """The ten decile classes in plain words."""
    out = []
    for d, colour in enumerate(DECILE_COLOURS, start=1):
        if d == 1:
            text = "1 = most deprived 10% in England"
        elif d == 10:
            text = "10 = least deprived 10% in England"
        else:
            text = f"{d} = {(d - 1) * 10}% to {d * 10}% most deprived in England"
        out.append(LegendClass(d, colour, text))
    return out


def score_breaks(scores: pd.Series) -> list[float]:
    """Quintile breaks of the shown scores (lowest first)."""
    clean = scores.dropna()
    if clean.empty:
        return []
    return [float(clean.quantile(q / SCORE_CLASSES)) for q in range(SCORE_CLASSES + 1)]


def score_legend(breaks: list[float], area_name: str) -> list[LegendClass]:
    """Five score classes, highest (most deprived) first."""
    out = []
    top = len(breaks) - 1
    for i in range(top, 0, -1):
        low, high = breaks[i - 1], breaks[i]
        place = top - i + 1  # 1 = the most deprived fifth
        if place == 1:
            where = "most deprived"
        elif place == top:
            where = "least deprived"
        else:
            where = f"{_ORDINALS[place]} most deprived"
        out.append(LegendClass(i, SCORE_COLOURS[i - 1],
                               f"Score {low:.3g} to {high:.3g} ({where} fifth of {area_name})"))
    return out


_ORDINALS = {2: "2nd", 3: "3rd", 4: "4th"}


def score_class(score: float | None, breaks: list[float]) -> int | None:
    if score is None or pd.isna(score) or not breaks:
        return None
    for i in range(1, len(breaks)):
        if score <= breaks[i]:
            return i
    return len(breaks) - 1


# Stevens-style 3x3 bivariate scheme (pink for need, teal for lack of provision, dark blue
# where both are high), chosen to stay distinguishable with the common colour-vision
# deficiencies. Indexed [lack of provision class - 1][need class - 1].
BIVARIATE_COLOURS: tuple[tuple[str, str, str], ...] = (
    ("#e8e8e8", "#dfb0d6", "#be64ac"),
    ("#ace4e4", "#a5add3", "#8c62aa"),
    ("#5ac8c8", "#5698b9", "#3b4994"),
)
CLASS_WORDS = {1: "low", 2: "middle", 3: "high"}


def bivariate(need_class: int, provision_class: int) -> tuple[str, str, str]:
    """(class code, words, colour) for a need class and a provision class (1 low .. 3 high)."""
    lack = 4 - provision_class
    colour = BIVARIATE_COLOURS[lack - 1][need_class - 1]
    words = f"{CLASS_WORDS[need_class]} need, {CLASS_WORDS[provision_class]} provision"
    return f"{need_class}-{provision_class}", words, colour


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two "#rrggbb" colours (1 to 21; text needs 4.5)."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    light, dark = sorted([luminance(a), luminance(b)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background``: a key's words sit on its colours."""
    return max(("#000000", "#ffffff"), key=lambda ink: contrast(ink, background))


def bivariate_legend() -> list[dict[str, Any]]:
    """The nine classes, high provision first (top row) and low need first (left column)."""
    return [
        {"need_class": n, "provision_class": p, "code": code, "label": words, "colour": colour}
        for p in (3, 2, 1) for n in (1, 2, 3)
        for code, words, colour in [bivariate(n, p)]
    ]
