"""Colour is never the only carrier of meaning (WCAG 1.4.1): the gaps map's 3x3 key names
each cell's classes in words, in ink that reads on its colour (WCAG 1.4.3, 4.5:1)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from dashboard.common import bivariate_legend_html, legend_html
from needsmap.terms import colours


HIDDEN = re.compile(r"position:\s*absolute|display:\s*none|visibility:\s*hidden|font-size:\s*0")


class Cells(HTMLParser):
    """The rows of a table as lists of (tag, style, visible text) for each th/td cell: text in
    an element hidden from sight (moved off-screen, not displayed) does not count."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, str, str]]] = []
        self.cell: list | None = None
        self.open: list[tuple[str, bool]] = []  # the elements open, and whether each hides

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "br":
            if self.cell is not None:
                self.cell[2] += " "
            return
        self.open.append((tag, bool(HIDDEN.search(attrs.get("style") or ""))
                          or attrs.get("aria-hidden") == "true"))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = [tag, attrs.get("style", ""), ""]

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop()[0] != tag:
            pass
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append((self.cell[0], self.cell[1], " ".join(self.cell[2].split())))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not any(hides for _tag, hides in self.open):
            self.cell[2] += data


def style(css: str, prop: str) -> str:
    return re.search(rf"(?:^|;)\s*{prop}\s*:\s*([^;]+)", css).group(1).strip()


def test_each_cell_of_the_bivariate_key_names_its_need_and_provision_in_words():
    parser = Cells()
    parser.feed(bivariate_legend_html(colours.bivariate_legend(), what="food"))
    *body, header = parser.rows
    needs = [text for _tag, _css, text in header[1:]]
    assert needs == ["Low need", "Middle need", "High need"]
    classes = {words: colour for n in (1, 2, 3) for p in (1, 2, 3)
               for _code, words, colour in [colours.bivariate(n, p)]}
    seen = set()
    for (tag, _css, provision), *cells in body:
        assert tag == "th" and provision.endswith(" provision")
        for need, (_tag, css, text) in zip(needs, cells, strict=True):
            words = f"{need.lower()}, {provision.lower()}"  # from the row and column headers
            assert text == words, (text, words)  # visible text, not a title or hidden span
            assert style(css, "background") == classes[words]
            ink = style(css, "color")
            ratio = colours.contrast(ink, classes[words])
            print(f"{words:30} on {classes[words]}: ink {ink}, contrast {ratio:.2f}:1")
            assert ratio >= 4.5
            seen.add(words)
    assert len(seen) == 9


def test_each_class_of_a_map_legend_is_named_in_words():
    classes = colours.decile_legend()
    out = legend_html(classes, "Overall deprivation: decile")
    items = re.findall(r"<li[^>]*>(.*?)</li>", out)
    assert len(items) == len(classes)
    for item, c in zip(items, classes):
        colour, text = re.fullmatch(r'<span aria-hidden="true" style="[^"]*background:(#\w{6});'
                                    r'[^"]*"></span><span>(.*)</span>', item).groups()
        assert colour == c.colour and text == html.escape(c.label) and c.label.strip()
