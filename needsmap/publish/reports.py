"""Area reports and the commissioning pack: the evidence for one place, ready to print.

``build`` gathers everything a report shows as plain data (an ``AreaReport``); ``render_html``
turns it into a page with the Jinja2 templates in ``templates/`` (autoescaped: resident
and commissioner text can never become markup) and ``render_pdf`` prints that page with
WeasyPrint. The dashboard, the CLI and the notebook all call these, so every route gives the
same report. Resident counts in a report come only from ``voice.blurred_needs`` (protected),
and gap reasons are worded (``analysis.reasons``) with those protected counts.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from needsmap.analysis import coverage, gaps, maps, reasons, summaries
from needsmap.config import Settings
from needsmap.publish import review as review_module
from needsmap.publish import static_map
from needsmap.store import areas, provenance
from needsmap.store.areas import Area
from needsmap.store.users import UserStore
from needsmap.terms import colours, iod, taxonomy
from needsmap.voice import blurred_needs, decisions, disclosure, heard, needs, rounds
from needsmap.voice.privacy import visible_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
GAP_CATEGORIES = tuple(c.id for c in taxonomy.NEED_CATEGORIES if c.id != "other")
TOP_GAPS = 10
# The gap tables a report ranks: default need weights, services within 1 km.
GAP_WEIGHTS = gaps.DEFAULT_WEIGHTS
GAP_RADIUS_M = 1000.0
ENGLAND_SHARE_10PC = 0.10  # by definition of the national deciles
ENGLAND_SHARE_20PC = 0.20


# ---------------------------------------------------------------------------- the report


@dataclass
class AreaReport:
    area: Area
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
    no_provision: list[str] = field(default_factory=list)  # "No provision data for food in X"
    compared_with: str = ""        # the name of the area figures are compared and ranked within
    operating: list[dict[str, object]] = field(default_factory=list)  # charities working here
    operating_source: str = ""
    heard_summary: heard.Summary | None = None  # who has been heard (the pack only)
    weighting: rounds.Weighting | None = None   # a community weighting applied (the pack only)
    priorities: pd.DataFrame | None = None      # the area's gaps by priority score under it
    review: review_module.Review | None = None   # did the gap close? (the pack only)

    @property
    def title(self) -> str:
        kind = "Commissioning pack" if self.pack else "Area report"
        return f"{kind}: {self.area.title}"


def _profile(con: duckdb.DuckDBPyConnection, area: Area, release: int) -> pd.DataFrame:
    """Per domain: the area beside the area it is compared with (``area.frame``: its
    authority, or the whole ICB or list it was chosen in) and England (shares of most deprived
    LSOAs)."""
    level = iod.lsoa_level(release)
    frame = area.frame
    here = summaries.area_summaries(con, "selection", release=release, lsoas=list(area.lsoas))
    if frame.kind == "lad":
        lad = summaries.area_summaries(con, "lad", release=release, lad_code=frame.code)
    else:
        lad = summaries.area_summaries(con, "selection", release=release, lsoas=list(frame.lsoas))
    frame_codes = list(frame.lsoas if level == "lsoa21" else frame.lsoa11)
    deciles = con.execute(
        """
        SELECT domain,
               avg(CASE WHEN decile <= 2 THEN 1.0 ELSE 0.0 END) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS here20,
               avg(CASE WHEN decile <= 2 THEN 1.0 ELSE 0.0 END) AS lad20,
               min(decile) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS low,
               max(decile) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS high,
               min(rank) FILTER (WHERE lsoa_code IN (SELECT unnest(?))) AS best_rank
        FROM iod_domain WHERE release = ? AND lsoa_code IN (SELECT unnest(?))
        GROUP BY domain
        """,
        [list(area.lsoas)] * 4 + [release, frame_codes],
    ).df().set_index("domain")
    rows = []
    for domain in iod.DOMAINS:
        key = f"{domain}_proportion_most_deprived_10pc"
        if here.empty or key not in here.columns or domain not in deciles.index:
            continue
        d = deciles.loc[domain]
        low, high = int(d["low"]), int(d["high"])
        rows.append({
            "domain": domain,
            "measure": iod.DOMAIN_LABELS[domain],
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


def _provision(lad: pd.DataFrame, area: Area, population: int | None,
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


def _needs_table(blurred: blurred_needs.BlurredNeeds, area: Area) -> pd.DataFrame:
    counts = blurred.for_area(area.kind, area.code, list(area.lsoas))
    rows = [{"category": c, "label": taxonomy.label(c), "reports": counts.get(c, pd.NA),
             "shown": disclosure.show(counts.get(c, pd.NA))} for c in blurred_needs.CATEGORIES]
    rows.append({"category": "all_categories", "label": "All categories",
                 "reports": counts.get("all_categories", pd.NA),
                 "shown": disclosure.show(counts.get("all_categories", pd.NA))})
    return pd.DataFrame(rows)


def frame_lsoas(area: Area) -> list[str] | None:
    """The LSOAs small areas are ranked within when that is more than one authority (an ICB, a
    region, a list); None for one authority, which ranks within itself as always."""
    frame = area.frame
    return None if frame.kind == "lad" else list(frame.lsoas)


def gap_tables(con: duckdb.DuckDBPyConnection, lad_code: str, approved: list[tuple],
               release: int = iod.DEFAULT_RELEASE,
               lsoas: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Each need category's gap table for the authority, or ranked within ``lsoas`` when given
    (``GAP_WEIGHTS``, ``GAP_RADIUS_M``)."""
    lad = None if lsoas is not None else lad_code
    return {c: gaps.gap_table(con, lad_code=lad, category=c, needs=approved, release=release,
                              weights=GAP_WEIGHTS, radius_m=GAP_RADIUS_M, lsoas=lsoas)
            for c in GAP_CATEGORIES}


def _top_gaps(tables: dict[str, pd.DataFrame], area: Area,
              blurred: blurred_needs.BlurredNeeds, current: pd.DataFrame,
              top: int | None = TOP_GAPS) -> pd.DataFrame:
    shown = blurred.by_lsoa()
    status = {(r.area_code, r.category): decisions.summary_line(pd.Series(r._asdict()))
              for r in current.itertuples(index=False)} if not current.empty else {}
    rows = []
    for category, table in tables.items():
        if gaps.ranks_nothing(table):  # no loaded source covers it: no "largest gap" to name
            continue
        # in an area of several authorities, those no loaded source covers have no rank: no gap to name
        inside = table[table["code"].isin(area.lsoas) & table["gap_rank"].notna()]
        said = reasons.describe(inside, category=category, weights=GAP_WEIGHTS, radius_m=GAP_RADIUS_M,
                                shown=shown[category] if category in shown else {})
        for row, words in zip(inside.to_dict("records"), said):
            rows.append({
                "code": row["code"], "name": row["name"], "category": category,
                "label": taxonomy.label(category), "gap_rank": int(row["gap_rank"]),
                "gap_score": float(row["gap_score"]),
                "need_class": int(row["need_class"]), "provision_class": int(row["provision_class"]),
                "bivariate_label": row["bivariate_label"],
                "colour": row["bivariate_colour"],
                "reports": shown.loc[row["code"], category] if category in shown else 0,
                "reasons": words,
                "decision": status.get((row["code"], category), "No decision recorded yet"),
            })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(["gap_score", "gap_rank", "code", "category"],
                              ascending=[False, True, True, True])
    return (frame if top is None else frame.head(top)).reset_index(drop=True)


def community_priorities(ev: Evidence, area: Area, weighting: rounds.Weighting,
                         top: int = TOP_GAPS) -> pd.DataFrame:
    """The area's gaps in the categories residents voted on, by gap score x their community
    weight, worded with protected counts as the pack's other gaps are."""
    voted = {c: t for c, t in ev.gaps.items() if c in weighting.weights}
    rows = _top_gaps(voted, area, ev.blurred, ev.decisions, top=None)
    if rows.empty:
        return rows
    return gaps.community_ranking(rows, weighting.weights, top)


def sources_and_attribution(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, list[str]]:
    """Every loaded dataset (title, publisher, licence, vintage...) and the attribution lines."""
    frame = provenance.frame(con)
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
             settings: Settings, release: int = iod.DEFAULT_RELEASE, *,
             lsoas: list[str] | None = None) -> Evidence:
    """What a report needs, for one authority or, given ``lsoas``, for an area of several
    (``frame_lsoas``), its small areas ranked within the whole."""
    approved = needs.approved_counts(user_store, None if lsoas is not None else lad_code, lsoas=lsoas)
    lookup = (areas.wards_of_lsoas(con, lsoas=lsoas) if lsoas is not None
              else areas.wards_of_lsoas(con, lad_code))
    wards = blurred_needs.ward_series(lookup)
    names = {**dict(zip(lookup["lsoa21_code"], lookup["lsoa21_name"])),
             **dict(zip(lookup["ward_code"], lookup["ward_name"])),
             **dict(zip(lookup["lad_code"], lookup["lad_name"]))}
    # decisions are filed under the authority of the place decided on: every authority of the area
    authorities = sorted(set(lookup["lad_code"].dropna())) or [lad_code]
    sources, attribution = sources_and_attribution(con)
    return Evidence(
        lad_code=lad_code, approved=approved, wards=wards, names=names,
        blurred=blurred_needs.protect(approved, wards, settings.suppress_below, lad_code),
        gaps=gap_tables(con, lad_code, approved, release, lsoas),
        decisions=decisions.current(user_store, authorities), threshold=settings.suppress_below,
        sources=sources, attribution=attribution,
    )


def decisions_in(ev: Evidence, area: Area) -> pd.DataFrame:
    """Current decisions about the area's LSOAs, wards or authority, in residents' words."""
    current = ev.decisions
    if current.empty:
        return current.assign(area_name=[], label=[], summary=[], reports=[])
    rows = current[current["area_code"].isin([*area.lsoas, *area.wards, *area.authorities])]
    names = {**dict(zip(area.authorities, area.authority_names)), **ev.names}
    return rows.assign(
        area_name=[names.get(c, c) for c in rows["area_code"]],
        label=[taxonomy.label(c) for c in rows["category"]],
        summary=[decisions.summary_line(r) for _, r in rows.iterrows()],
        reports=[_shown_for(ev.blurred, r) for _, r in rows.iterrows()],
    ).reset_index(drop=True)


def build(con: duckdb.DuckDBPyConnection, user_store: UserStore, area: Area,
          settings: Settings, *, pack: bool = False, release: int = iod.DEFAULT_RELEASE,
          today: date | None = None, with_map: bool = True,
          ev: Evidence | None = None, weighting: rounds.Weighting | None = None) -> AreaReport:
    """Everything a report shows, as plain data; nothing here is exact about a resident."""
    ev = ev or evidence(con, user_store, area.lad_code, settings, release, lsoas=frame_lsoas(area))
    population = _population(con, list(area.lsoas))
    lad_population = _population(con, list(ev.wards.index))
    # the services of the whole frame the population above is of (one authority, or an ICB...)
    services = maps.services(con, lsoa_codes=list(ev.wards.index))
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
        notes_on_method=[gaps.METHOD, summaries.METHOD, gaps.CENTRE_NOTE, *colours.CAVEATS],
        no_provision=no_provision_lines(con, ev.gaps, area),
        compared_with=area.frame.name,
        operating=coverage.operating_table(con, list(area.authorities)),
        operating_source=coverage.operating_source(con) or "",
    )
    if pack:
        report.heard_summary = heard.summarise(con, user_store, list(area.lsoas), ev.threshold)
        if weighting is not None:
            report.weighting = weighting
            report.priorities = community_priorities(ev, area, weighting)
        report.review = review_module.review(con, user_store, list(area.authorities), settings,
                                             area_codes=[*area.lsoas, *area.wards, *area.authorities])
    if with_map:
        report.map_png = static_map.render(con, area, ev.blurred, services=services,
                                           attribution=_map_source_line(report))
    return report


def no_provision_lines(con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame],
                       area: Area) -> list[str]:
    """For each category no loaded source covers in some or all of the area's authorities:
    "No provision data for <category> in <those authorities>" (the area's own name when it is
    an authority, a list or an NHS area that none is covered in)."""
    names = dict(zip(area.authorities, area.authority_names))
    lines = []
    for category in tables:
        missing = coverage.uncovered_authorities(con, category, list(area.authorities))
        if not missing:
            continue
        whole = missing == set(area.authorities) and (area.kind in areas.FRAMES or area.kind == "group")
        where = area.name if whole else coverage.listing(sorted(names[c] for c in missing))
        lines.append(coverage.sentence(coverage.no_provision_data(category, where)))
    return lines


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


def _shown(value: object) -> object:
    """Text as the report prints it: hidden characters visible (markup the template itself
    built is left alone)."""
    return visible_text(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _environment() -> Environment:
    # Every value printed shows hidden characters (bidi overrides...) as codes, then is escaped.
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2"),
                                                   default_for_string=True, default=True),
                      finalize=_shown)
    env.filters["pct"] = lambda v: "" if v is None or pd.isna(v) else f"{100 * float(v):.0f}%"
    env.filters["num"] = lambda v, d=1: "" if v is None or pd.isna(v) else f"{float(v):,.{d}f}"
    env.filters["count"] = disclosure.show
    env.filters["rate"] = lambda v: disclosure.SUPPRESSED_MARK if v is None or pd.isna(v) else f"{float(v):,.1f}"
    env.filters["day"] = lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%-d %b %Y")
    env.filters["records"] = lambda f: [] if f is None or f.empty else f.to_dict("records")
    return env


def render_html(report: AreaReport) -> str:
    """The report as one self-contained HTML page (the map is embedded)."""
    template = _environment().get_template("report.html.j2")
    map_uri = ("data:image/png;base64," + base64.b64encode(report.map_png).decode("ascii")
               if report.map_png else "")
    return template.render(r=report, map_uri=map_uri, kinds=areas.KINDS, outcomes=review_module.OUTCOMES,
                           method=gaps.COMMUNITY_METHOD,
                           statuses=decisions.STATUSES, operating_caveat=coverage.HEAD_OFFICE_CAVEAT)


def render_pdf(report: AreaReport, html: str | None = None) -> bytes:
    """The same page printed to A4 by WeasyPrint."""
    from weasyprint import HTML  # imported late: it loads Pango

    return HTML(string=html or render_html(report), base_url=str(TEMPLATES)).write_pdf()
