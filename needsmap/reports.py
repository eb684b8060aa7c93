"""Area reports and the commissioning pack: the evidence for one place, ready to print.

``build`` gathers everything a report shows as plain data (an ``AreaReport``); ``render_html``
turns it into a page with the Jinja2 templates in ``needsmap/templates`` (autoescaped: resident
and commissioner text can never become markup) and ``render_pdf`` prints that page with
WeasyPrint. The dashboard, the CLI and the notebook all call these, so every route gives the
same report. Resident counts in a report come only from ``needsmap.blurred_needs`` (protected);
gap reasons are re-worded with those protected counts.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from needsmap import (blurred_needs, decisions, disclosure, gaps, mapdata, needs, static_map,
                      summaries, taxonomy)
from needsmap._errors import ValidationError
from needsmap.areas import resolve
from needsmap.config import Settings
from needsmap.userstore import UserStore

TEMPLATES = Path(__file__).resolve().parent / "templates"
KIND_WORDS = {"lsoa": "Small area (LSOA 2021)", "ward": "Electoral ward",
              "lad": "Local authority", "selection": "Chosen small areas"}
GAP_CATEGORIES = tuple(c.id for c in taxonomy.NEED_CATEGORIES if c.id != "other")
TOP_GAPS = 10
ENGLAND_SHARE_10PC = 0.10  # by definition of the national deciles
ENGLAND_SHARE_20PC = 0.20


@dataclass(frozen=True)
class ReportArea:
    """What a report covers: an LSOA, a ward, an authority or a drawn set of LSOAs."""
    kind: str
    code: str
    name: str
    lad_code: str
    lad_name: str
    lsoas: tuple[str, ...]
    wards: tuple[str, ...]

    @property
    def title(self) -> str:
        if self.kind == "lad":
            return self.name
        if self.kind == "selection":
            return f"{self.name} in {self.lad_name}"
        return f"{self.name}, {self.lad_name}"

    @property
    def slug(self) -> str:
        text = self.code if self.kind != "selection" else f"{self.lad_code}-selection-{len(self.lsoas)}"
        return re.sub(r"[^A-Za-z0-9-]+", "-", f"{self.name}-{text}").strip("-").lower()


def _match(con: duckdb.DuckDBPyConnection, lad_code: str, column: str, text: str) -> tuple[str, str]:
    wanted = text.strip()
    rows = con.execute(
        f"SELECT DISTINCT {column}_code, {column}_name FROM lsoa21_lookup WHERE lad_code = ? "
        f"AND (upper({column}_code) = upper(?) OR lower({column}_name) = lower(?))",
        [lad_code, wanted, wanted],
    ).fetchall()
    if len(rows) == 1:
        return rows[0]
    words = "ward" if column == "ward" else "small area (LSOA)"
    if rows:
        raise ValidationError(f"{wanted!r} matches several {words}s: use the code",
                              [f"{c} {n}" for c, n in rows])
    close = con.execute(
        f"SELECT DISTINCT {column}_name FROM lsoa21_lookup WHERE lad_code = ? "
        f"ORDER BY jaro_winkler_similarity(lower({column}_name), lower(?)) DESC LIMIT 3",
        [lad_code, wanted],
    ).fetchall()
    raise ValidationError(f"no {words} called or coded {wanted!r} in this authority; did you "
                          f"mean: {', '.join(r[0] for r in close)}?")


def resolve_area(con: duckdb.DuckDBPyConnection, area: str, *, ward: str | None = None,
                 lsoa: str | None = None, lsoas: list[str] | None = None) -> ReportArea:
    """The report's area from an authority (name or code) and at most one of ward, LSOA or set."""
    if sum(x is not None for x in (ward, lsoa, lsoas)) > 1:
        raise ValidationError("choose one of a ward, a small area or a set of small areas")
    lad = resolve(con, area)
    ward_of = blurred_needs.lsoa_wards(con, lad.lad_code)
    if ward is not None:
        code, name = _match(con, lad.lad_code, "ward", ward)
        members = list(ward_of[ward_of == code].index)
        return ReportArea("ward", code, name, lad.lad_code, lad.lad_name, tuple(members), (code,))
    if lsoa is not None:
        code, name = _match(con, lad.lad_code, "lsoa21", lsoa)
        return ReportArea("lsoa", code, name, lad.lad_code, lad.lad_name, (code,), (ward_of[code],))
    if lsoas is not None:
        chosen = sorted({c.strip().upper() for c in lsoas if c.strip()})
        outside = [c for c in chosen if c not in ward_of.index]
        if not chosen:
            raise ValidationError("the set of small areas is empty")
        if outside:
            raise ValidationError(f"{len(outside)} of the chosen small areas are not in "
                                  f"{lad.lad_name}", outside[:10])
        wards = tuple(sorted({ward_of[c] for c in chosen}))
        return ReportArea("selection", "selection", f"{len(chosen)} chosen small areas",
                          lad.lad_code, lad.lad_name, tuple(chosen), wards)
    return ReportArea("lad", lad.lad_code, lad.lad_name, lad.lad_code, lad.lad_name,
                      tuple(sorted(ward_of.index)), tuple(sorted(set(ward_of))))


# ---------------------------------------------------------------------------- the report


@dataclass
class AreaReport:
    area: ReportArea
    generated: date
    release: int
    population: int | None
    profile: pd.DataFrame          # one row per domain: area, authority and England figures
    provision: pd.DataFrame        # one row per category: services in the area, per 1,000
    needs: pd.DataFrame            # one row per category: protected report counts
    quotes: list[blurred_needs.Quote]
    notes: list[blurred_needs.Note]
    gaps: pd.DataFrame             # the area's largest gaps across categories
    decisions: pd.DataFrame        # you said, we did: current decisions in the area
    sources: pd.DataFrame
    attribution: list[str]
    suppression_rule: str
    threshold: int
    map_png: bytes = b""
    pack: bool = False
    notes_on_method: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        kind = "Commissioning pack" if self.pack else "Area report"
        return f"{kind}: {self.area.title}"


def _profile(con: duckdb.DuckDBPyConnection, area: ReportArea, release: int) -> pd.DataFrame:
    """Per domain: the area beside its authority and England (shares of most deprived LSOAs)."""
    level = mapdata.lsoa_level(release)
    here = summaries.area_summaries(con, "selection", release=release, lsoas=list(area.lsoas))
    lad = summaries.area_summaries(con, "lad", release=release, lad_code=area.lad_code)
    deciles = con.execute(
        """
        SELECT domain,
               avg(CASE WHEN decile <= 2 THEN 1.0 ELSE 0.0 END) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS here20,
               avg(CASE WHEN decile <= 2 THEN 1.0 ELSE 0.0 END) AS lad20,
               min(decile) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS low,
               max(decile) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS high,
               min(rank) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS best_rank
        FROM iod_domain WHERE release = ? AND lsoa_code IN
             (SELECT code FROM boundary WHERE level = ? AND lad_code = ?)
        GROUP BY domain
        """,
        [list(area.lsoas)] * 4 + [release, level, area.lad_code],
    ).df().set_index("domain")
    rows = []
    for domain in mapdata.DOMAINS:
        key = f"{domain}_proportion_most_deprived_10pc"
        if here.empty or key not in here.columns or domain not in deciles.index:
            continue
        d = deciles.loc[domain]
        low, high = int(d["low"]), int(d["high"])
        rows.append({
            "domain": domain,
            "measure": mapdata.DOMAIN_LABELS[domain],
            "deciles": str(low) if low == high else f"{low} to {high}",
            "area_10pc": float(here[key].iloc[0]),
            "lad_10pc": float(lad[key].iloc[0]),
            "england_10pc": ENGLAND_SHARE_10PC,
            "area_20pc": float(d["here20"]),
            "lad_20pc": float(d["lad20"]),
            "england_20pc": ENGLAND_SHARE_20PC,
            "area_score": float(here[f"{domain}_average_score"].iloc[0]),
            "lad_score": float(lad[f"{domain}_average_score"].iloc[0]),
            "area_extent": float(here[f"{domain}_extent"].iloc[0]),
            "lad_extent": float(lad[f"{domain}_extent"].iloc[0]),
        })
    return pd.DataFrame(rows)


def _provision(lad: pd.DataFrame, area: ReportArea, population: int | None,
               lad_population: int | None) -> pd.DataFrame:
    """Services by category in the area and in the authority (``lad``: its services)."""
    here = lad[lad["lsoa21_code"].isin(area.lsoas)]
    rows = []
    for cat in taxonomy.CATEGORIES:
        n_here = int((here["category"] == cat.id).sum())
        n_lad = int((lad["category"] == cat.id).sum())
        if not n_here and not n_lad:
            continue
        rows.append({
            "category": cat.id, "label": cat.label, "colour": cat.colour, "services": n_here,
            "head_offices": int(((here["category"] == cat.id) & here["head_office"]).sum()),
            "per_1000": 1000.0 * n_here / population if population else None,
            "lad_services": n_lad,
            "lad_per_1000": 1000.0 * n_lad / lad_population if lad_population else None,
        })
    return pd.DataFrame(rows)


def _population(con: duckdb.DuckDBPyConnection, lsoas: list[str]) -> int | None:
    row = con.execute("SELECT sum(total) FROM population WHERE lsoa21_code IN (SELECT unnest(?))",
                      [lsoas]).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _needs_table(blurred: blurred_needs.BlurredNeeds, area: ReportArea) -> pd.DataFrame:
    counts = blurred.for_area(area.kind, area.code, list(area.lsoas))
    rows = [{"category": c, "label": taxonomy.label(c), "reports": counts.get(c, pd.NA),
             "shown": disclosure.show(counts.get(c, pd.NA))} for c in blurred_needs.CATEGORIES]
    rows.append({"category": "all_categories", "label": "All categories",
                 "reports": counts.get("all_categories", pd.NA),
                 "shown": disclosure.show(counts.get("all_categories", pd.NA))})
    return pd.DataFrame(rows)


def public_reasons(reasons: str, category: str, shown_reports: object) -> str:
    """The gap in words with the resident count as published (protected), never the raw count.

    ``gaps.gap_table`` words its reasons as '; '-separated parts, one of them about resident
    reports; that part is replaced, so the exact count never reaches a report or export.
    """
    what = taxonomy.label(category).lower()
    if shown_reports is None or shown_reports is pd.NA or pd.isna(shown_reports):
        said = f"a few resident reports on {what} (number hidden to protect residents)"
    elif int(shown_reports) == 0:
        said = f"no resident reports on {what} yet"
    else:
        said = f"{int(shown_reports):,} resident report{'s' if int(shown_reports) != 1 else ''} on {what}"
    parts = [said if "resident report" in part else part for part in str(reasons).split("; ")]
    return "; ".join(parts)


def publish_reasons(table: pd.DataFrame, category: str, blurred: blurred_needs.BlurredNeeds) -> pd.Series:
    """A gap table's ``reasons`` with each LSOA's resident count as published (the same
    protected figure as in reports and exports), for viewers who may not see exact counts."""
    shown = blurred.by_lsoa()
    column = shown[category] if category in shown.columns else pd.Series(dtype="Int64")
    return pd.Series([public_reasons(r, category, column.get(code, 0))
                      for code, r in zip(table["code"], table["reasons"])], index=table.index)


def gap_tables(con: duckdb.DuckDBPyConnection, lad_code: str, approved: list[tuple],
               release: int = mapdata.DEFAULT_RELEASE) -> dict[str, pd.DataFrame]:
    """Each need category's gap table for the authority (default weights, 1 km)."""
    return {c: gaps.gap_table(con, lad_code=lad_code, category=c, needs=approved, release=release)
            for c in GAP_CATEGORIES}


def _top_gaps(tables: dict[str, pd.DataFrame], area: ReportArea,
              blurred: blurred_needs.BlurredNeeds, current: pd.DataFrame,
              top: int = TOP_GAPS) -> pd.DataFrame:
    shown = blurred.by_lsoa()
    status = {(r.area_code, r.category): decisions.summary_line(pd.Series(r._asdict()))
              for r in current.itertuples(index=False)} if not current.empty else {}
    rows = []
    for category, table in tables.items():
        inside = table[table["code"].isin(area.lsoas)]
        for row in inside.to_dict("records"):
            rows.append({
                "code": row["code"], "name": row["name"], "category": category,
                "label": taxonomy.label(category), "gap_rank": int(row["gap_rank"]),
                "gap_score": float(row["gap_score"]),
                "need_class": int(row["need_class"]), "provision_class": int(row["provision_class"]),
                "bivariate_label": row["bivariate_label"],
                "colour": row["bivariate_colour"],
                "reports": shown.loc[row["code"], category],
                "reasons": public_reasons(row["reasons"], category, shown.loc[row["code"], category]),
                "decision": status.get((row["code"], category), "No decision recorded yet"),
            })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["gap_score", "gap_rank", "code", "category"],
                              ascending=[False, True, True, True])
    return frame.head(top).reset_index(drop=True)


def sources_and_attribution(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, list[str]]:
    """Every loaded dataset (title, publisher, licence, vintage...) and the attribution lines."""
    frame = mapdata.provenance(con)
    lines: list[str] = []
    for text in frame["attribution"]:
        if text and text not in lines:
            lines.append(text)
    extra = con.execute(
        "SELECT DISTINCT attribution FROM services WHERE attribution IS NOT NULL ORDER BY 1"
    ).fetchall()
    for (text,) in extra:
        if text not in lines:
            lines.append(text)
    return frame, lines


@dataclass
class Evidence:
    """What reports and exports of one authority share, computed once per request."""
    lad_code: str
    approved: list[tuple]
    wards: pd.Series               # LSOA code -> ward code, every LSOA of the authority
    names: dict[str, str]          # LSOA and ward codes -> names
    blurred: blurred_needs.BlurredNeeds
    gaps: dict[str, pd.DataFrame]  # need category -> gap table
    decisions: pd.DataFrame        # current decisions in the authority
    threshold: int
    sources: pd.DataFrame          # the store's provenance, as reports and exports list it
    attribution: list[str]


def evidence(con: duckdb.DuckDBPyConnection, user_store: UserStore, lad_code: str,
             settings: Settings, release: int = mapdata.DEFAULT_RELEASE) -> Evidence:
    approved = needs.approved_counts(user_store, lad_code)
    lookup = mapdata.wards_of_lsoas(con, lad_code)
    wards = blurred_needs.ward_series(lookup)
    names = {**dict(zip(lookup["lsoa21_code"], lookup["lsoa21_name"])),
             **dict(zip(lookup["ward_code"], lookup["ward_name"]))}
    sources, attribution = sources_and_attribution(con)
    return Evidence(
        lad_code=lad_code, approved=approved, wards=wards, names=names,
        blurred=blurred_needs.protect(approved, wards, settings.suppress_below, lad_code),
        gaps=gap_tables(con, lad_code, approved, release),
        decisions=decisions.current(user_store, lad_code), threshold=settings.suppress_below,
        sources=sources, attribution=attribution,
    )


def decisions_in(ev: Evidence, area: ReportArea) -> pd.DataFrame:
    """Current decisions about the area's LSOAs, wards or authority, in residents' words."""
    current = ev.decisions
    if current.empty:
        return current.assign(area_name=[], label=[], summary=[], reports=[])
    rows = current[current["area_code"].isin([*area.lsoas, *area.wards, area.lad_code])]
    return rows.assign(
        area_name=[ev.names.get(c, area.lad_name if c == area.lad_code else c) for c in rows["area_code"]],
        label=[taxonomy.label(c) for c in rows["category"]],
        summary=[decisions.summary_line(r) for _, r in rows.iterrows()],
        reports=[_shown_for(ev.blurred, r) for _, r in rows.iterrows()],
    ).reset_index(drop=True)


def build(con: duckdb.DuckDBPyConnection, user_store: UserStore, area: ReportArea,
          settings: Settings, *, pack: bool = False, release: int = mapdata.DEFAULT_RELEASE,
          today: date | None = None, with_map: bool = True,
          ev: Evidence | None = None) -> AreaReport:
    """Everything a report shows, as plain data; nothing here is exact about a resident."""
    ev = ev or evidence(con, user_store, area.lad_code, settings, release)
    population = _population(con, list(area.lsoas))
    lad_population = _population(con, list(ev.wards.index))
    services = mapdata.services(con, lad_code=area.lad_code)
    report = AreaReport(
        area=area, generated=today or date.today(), release=release, population=population,
        profile=_profile(con, area, release),
        provision=_provision(services, area, population, lad_population),
        needs=_needs_table(ev.blurred, area),
        quotes=blurred_needs.quotes(user_store, list(area.lsoas)),
        notes=blurred_needs.annotations(user_store, list(area.lsoas), list(area.wards), ev.names),
        gaps=_top_gaps(ev.gaps, area, ev.blurred, ev.decisions),
        decisions=decisions_in(ev, area), sources=ev.sources, attribution=ev.attribution,
        suppression_rule=disclosure.rule_text(ev.threshold), threshold=ev.threshold, pack=pack,
        notes_on_method=[gaps.METHOD, summaries.METHOD, gaps.CENTRE_NOTE, *mapdata.CAVEATS],
    )
    if with_map:
        report.map_png = static_map.render(con, area, ev.blurred, services=services,
                                           attribution=_map_source_line(report))
    return report


def _shown_for(blurred: blurred_needs.BlurredNeeds, decision: pd.Series) -> str:
    level = {"lsoa21": "lsoa", "ward": "ward", "lad": "lad"}[decision["area_level"]]
    lsoas = list(blurred.wards.index) if level == "lad" else (
        [decision["area_code"]] if level == "lsoa" else
        list(blurred.wards[blurred.wards == decision["area_code"]].index))
    counts = blurred.for_area(level, decision["area_code"], lsoas)
    return disclosure.show(counts.get(decision["category"], pd.NA))


def _map_source_line(report: AreaReport) -> str:
    return (f"Source: English Indices of Deprivation {report.release} (MHCLG); ONS boundaries "
            f"(Contains OS data © Crown copyright and database right 2025); services from the "
            f"loaded lists; resident needs approved by moderators, counted by small area. "
            f"Map made {report.generated:%d %B %Y}.")


# ---------------------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2"),
                                                   default_for_string=True, default=True))
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{100 * float(v):.0f}%"
    env.filters["num"] = lambda v, d=1: "" if v is None or pd.isna(v) else f"{float(v):,.{d}f}"
    env.filters["count"] = disclosure.show
    env.filters["day"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%-d %b %Y")
    env.filters["records"] = lambda f: [] if f is None or f.empty else f.to_dict("records")
    return env


def render_html(report: AreaReport) -> str:
    """The report as one self-contained HTML page (the map is embedded)."""
    template = _environment().get_template("report.html.j2")
    map_uri = ("data:image/png;base64," + base64.b64encode(report.map_png).decode("ascii")
               if report.map_png else "")
    return template.render(r=report, map_uri=map_uri, kinds=KIND_WORDS,
                           statuses=decisions.STATUSES)


def render_pdf(report: AreaReport, html: str | None = None) -> bytes:
    """The same page printed to A4 by WeasyPrint."""
    from weasyprint import HTML  # imported late: it loads Pango

    return HTML(string=html or render_html(report), base_url=str(TEMPLATES)).write_pdf()
