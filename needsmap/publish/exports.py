"""Data exports for analysts: CSV, GeoPackage and GeoParquet, each with a README of sources.

Every file says where its figures come from (publisher, licence, vintage, attribution) and the
suppression rule applied to resident counts. Residents' needs appear only as protected counts
per small area (``voice.blurred_needs``); exact points, postcodes and contact details never
reach this module. Geometries are on the British National Grid (EPSG:27700), the projection
GIS teams in England use, so QGIS measures in metres.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely

import needsmap
from needsmap.analysis import change, gaps
from needsmap.config import Settings
from needsmap.publish import reports
from needsmap.publish.reports import Evidence
from needsmap.store import areas
from needsmap.store.areas import Area
from needsmap.store.users import UserStore
from needsmap.terms import iod, taxonomy
from needsmap.voice import blurred_needs, disclosure, rounds
from needsmap.voice.privacy import spreadsheet_safe

CRS = "EPSG:27700"
FORMATS = ("pdf", "html", "csv", "gpkg", "parquet")
LAYERS = {
    "lsoa_measures": "One row per small area (LSOA 2021) with every measure: deprivation, "
                     "population, services, gap scores and protected resident counts.",
    "services": "Services placed in the area's small areas, from the loaded lists.",
    "resident_needs": "Approved resident needs counted by small area and category, with "
                      "disclosure control (empty = hidden). Never exact places.",
    "decisions": "You said, we did: commissioners' current decisions on gaps in the area.",
    "sources": "Datasets the figures come from, with publisher, licence and vintage.",
}


@dataclass
class ExportData:
    area: Area
    generated: date
    release: int
    lsoas: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    needs: gpd.GeoDataFrame
    decisions: pd.DataFrame
    sources: pd.DataFrame
    attribution: list[str]
    rule: str
    columns: dict[str, str]


# ---------------------------------------------------------------------------- gathering


def _geometries(con: duckdb.DuckDBPyConnection, lsoas: list[str]) -> pd.DataFrame:
    frame = con.execute(
        "SELECT code, ST_AsWKB(geom_bng) AS wkb FROM boundary WHERE level = 'lsoa21' "
        "AND code IN (SELECT unnest(?)) ORDER BY code", [lsoas]).df()
    frame["geometry"] = shapely.from_wkb([bytes(w) for w in frame["wkb"]])
    return frame.drop(columns="wkb").set_index("code")


def _lsoa_measures(con: duckdb.DuckDBPyConnection, area: Area, ev: Evidence,
                   release: int) -> tuple[pd.DataFrame, dict[str, str]]:
    codes = list(area.lsoas)
    notes: dict[str, str] = {}
    base = con.execute(
        """
        SELECT k.lsoa21_code, k.lsoa21_name, k.msoa21_code, k.msoa21_name, k.ward_code, k.ward_name,
               k.lad_code, k.lad_name, p.total AS population, p.age_0_15, p.age_16_24, p.age_25_34,
               p.age_35_49, p.age_50_64, p.age_65_plus
        FROM lsoa21_lookup k LEFT JOIN population p ON p.lsoa21_code = k.lsoa21_code
        WHERE k.lsoa21_code IN (SELECT unnest(?)) ORDER BY k.lsoa21_code
        """, [codes]).df().set_index("lsoa21_code", drop=False)
    notes.update({
        "lsoa21_code": "LSOA 2021 code (ONS)", "lsoa21_name": "LSOA 2021 name",
        "msoa21_code": "MSOA 2021 code", "msoa21_name": "MSOA 2021 name",
        "ward_code": "Electoral ward (best fit, May 2024) code", "ward_name": "Electoral ward name",
        "lad_code": "Local authority code", "lad_name": "Local authority name",
        "population": "Usual residents, Census 2021 (ONS)",
    })
    for band in ("0_15", "16_24", "25_34", "35_49", "50_64", "65_plus"):
        notes[f"age_{band}"] = f"Residents aged {band.replace('_', ' to ').replace('to plus', 'and over')}, Census 2021"
    figures = con.execute(
        "SELECT lsoa_code, domain, score, rank, decile FROM iod_domain WHERE release = ? "
        "AND lsoa_code IN (SELECT unnest(?))", [release, codes]).df()
    for domain in iod.DOMAINS:
        part = figures[figures["domain"] == domain].set_index("lsoa_code")
        if part.empty:
            continue
        label = iod.DOMAIN_LABELS[domain]
        for stat, words in (("score", "score (higher = more deprived)"),
                            ("rank", "rank in England (1 = most deprived)"),
                            ("decile", "decile in England (1 = most deprived 10%)")):
            column = f"iod{release}_{domain}_{stat}"
            base[column] = part[stat].reindex(base.index)
            notes[column] = f"{label}, IoD{release} {words} (MHCLG)"
    # every small area of the area, whichever authority it is in (an ICB spans several)
    since = change.change_since_2019(con, None, lsoas=list(area.lsoas)).set_index("code")
    if not since.empty:
        base["iod2019_imd_decile"] = since["decile_2019"].reindex(base.index).astype("Int64")
        base["imd_decile_change"] = since["decile_change"].reindex(base.index).astype("Int64")
        base["lsoa_change_2011_2021"] = since["change"].reindex(base.index)
        notes["iod2019_imd_decile"] = "IMD decile in IoD2019, carried to 2021 areas (see analysis.change.CHANGE_CAVEAT)"
        notes["imd_decile_change"] = "IMD decile 2025 minus 2019 (negative = now in a more deprived decile)"
        notes["lsoa_change_2011_2021"] = "How the area changed between the 2011 and 2021 LSOAs (ONS)"
    svc = con.execute(
        "SELECT lsoa21_code, category, count(*) FROM services WHERE lsoa21_code IN (SELECT unnest(?)) "
        "GROUP BY ALL", [codes]).fetchall()
    for cat in taxonomy.CATEGORIES:
        column = f"services_{cat.id}"
        base[column] = 0
        notes[column] = f"Services listed in the area: {cat.label}"
    for lsoa, category, n in svc:
        base.loc[lsoa, f"services_{category}"] = int(n)
    base["services_total"] = base[[f"services_{c.id}" for c in taxonomy.CATEGORIES]].sum(axis=1)
    notes["services_total"] = "Services listed in the area, all categories"
    for category, table in ev.gaps.items():
        t = table.set_index("code").reindex(base.index)
        label = taxonomy.label(category)
        base[f"gap_{category}_score"] = t["gap_score"].round(4)
        base[f"gap_{category}_rank"] = t["gap_rank"].astype("Int64")
        base[f"gap_{category}_class"] = t["bivariate_label"]
        base[f"nearest_{category}_m"] = t["nearest_m"].round(0)
        notes[f"gap_{category}_score"] = f"{label}: gap score 0-1 (need x lack of provision, within the authority)"
        notes[f"gap_{category}_rank"] = f"{label}: gap rank in the authority (1 = largest gap)"
        notes[f"gap_{category}_class"] = f"{label}: need and provision class (thirds of the authority)"
        notes[f"nearest_{category}_m"] = f"{label}: metres from the area's centre to the nearest service"
    shown = ev.blurred.by_lsoa(codes)
    for cat in blurred_needs.CATEGORIES:
        base[f"needs_{cat}"] = shown[cat].reindex(base.index)
        notes[f"needs_{cat}"] = (f"Approved resident reports of need: {taxonomy.label(cat)} "
                                 "(empty = hidden by disclosure control)")
    base["needs_all"] = shown["all_categories"].reindex(base.index)
    notes["needs_all"] = "Approved resident reports of need, all categories (empty = hidden)"
    return base.reset_index(drop=True), notes


def _services(con: duckdb.DuckDBPyConnection, area: Area) -> gpd.GeoDataFrame:
    frame = con.execute(
        """
        SELECT service_id, name, category, organisation, address, postcode, lsoa21_code,
               coalesce(head_office, FALSE) AS head_office, source_dataset, licence, attribution,
               ST_AsWKB(geom_bng) AS wkb
        FROM services WHERE geom_bng IS NOT NULL AND lsoa21_code IN (SELECT unnest(?))
        ORDER BY category, name
        """, [list(area.lsoas)]).df()
    frame.insert(3, "category_label", [taxonomy.label(c) for c in frame["category"]])
    geometry = shapely.from_wkb([bytes(w) for w in frame.pop("wkb")])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS)


def gather(con: duckdb.DuckDBPyConnection, user_store: UserStore, area: Area,
           settings: Settings, *, release: int = iod.DEFAULT_RELEASE,
           today: date | None = None, ev: Evidence | None = None) -> ExportData:
    """Every layer of the export for the area, protected and with its notes."""
    ev = ev or reports.evidence(con, user_store, area.lad_code, settings, release,
                                lsoas=reports.frame_lsoas(area))
    measures, notes = _lsoa_measures(con, area, ev, release)
    geoms = _geometries(con, list(area.lsoas))
    lsoas = gpd.GeoDataFrame(measures, geometry=list(geoms["geometry"].reindex(measures["lsoa21_code"])),
                             crs=CRS)
    need_cols = ["lsoa21_code", "lsoa21_name", "ward_code", "ward_name", "population",
                 *[f"needs_{c}" for c in blurred_needs.CATEGORIES], "needs_all"]
    needs_layer = gpd.GeoDataFrame(measures[need_cols].copy(), geometry=list(lsoas.geometry), crs=CRS)
    decided = reports.decisions_in(ev, area)
    decisions_table = pd.DataFrame({
        "area_code": decided.get("area_code", pd.Series(dtype="object")),
        "area_name": decided.get("area_name", pd.Series(dtype="object")),
        "area_level": decided.get("area_level", pd.Series(dtype="object")),
        "category": decided.get("category", pd.Series(dtype="object")),
        "status": decided.get("status_label", pd.Series(dtype="object")),
        "decided_on": decided.get("decided_on", pd.Series(dtype="object")),
        "budget_gbp": decided.get("budget", pd.Series(dtype="float64")),
        "reason_or_action": [r["reason"] if r["status"] == "declined" else r["action"]
                             for _, r in decided.iterrows()],
        "resident_reports": decided.get("reports", pd.Series(dtype="object")),
    })
    sources, attribution = ev.sources, ev.attribution
    return ExportData(
        area=area, generated=today or date.today(), release=release, lsoas=lsoas,
        services=_services(con, area), needs=needs_layer, decisions=decisions_table,
        sources=sources[["title", "publisher", "vintage", "geography", "licence", "attribution",
                         "retrieved", "loaded", "url", "dataset_id"]].astype({"retrieved": "string",
                                                                             "loaded": "string"}),
        attribution=attribution, rule=disclosure.rule_text(ev.threshold), columns=notes,
    )


# ---------------------------------------------------------------------------- writing


def base_name(data: ExportData) -> str:
    return f"needsmap-{data.area.slug}-{data.generated.isoformat()}"


def write_csv(data: ExportData, path: Path) -> Path:
    """One row per LSOA with every measure (no geometry); hidden counts are empty cells, and
    no text cell can run as a formula."""
    spreadsheet_safe(data.lsoas.drop(columns="geometry")).to_csv(path, index=False, encoding="utf-8")
    return path


def write_gpkg(data: ExportData, path: Path) -> Path:
    """Every layer in one GeoPackage (opens in QGIS); layer descriptions carry the sources.

    QGIS and ogr2ogr turn a layer into CSV or XLSX in two clicks, so every text cell is made
    inert as in the CSV downloads (``privacy.spreadsheet_safe``): a commissioner's words or a
    service's name can never run as a spreadsheet formula."""
    path.unlink(missing_ok=True)
    about = summary_text(data)
    spatial = (("lsoa_measures", data.lsoas), ("services", data.services),
               ("resident_needs", data.needs))
    for i, (layer, frame) in enumerate(spatial):
        pyogrio.write_dataframe(
            spreadsheet_safe(frame), path, layer=layer, driver="GPKG",
            layer_options={"IDENTIFIER": f"{data.area.title}: {layer.replace('_', ' ')}",
                           "DESCRIPTION": f"{LAYERS[layer]} {about}"},
            dataset_metadata={"TITLE": f"needsmap export: {data.area.title}", "ABSTRACT": about}
            if i == 0 else None,
        )
    for layer, frame in (("decisions", data.decisions), ("sources", data.sources)):
        pyogrio.write_dataframe(spreadsheet_safe(frame), path, layer=layer, driver="GPKG",
                                layer_options={"DESCRIPTION": LAYERS[layer]})
    pyogrio.write_dataframe(pd.DataFrame({"column": list(data.columns),
                                          "meaning": list(data.columns.values())}),
                            path, layer="column_notes", driver="GPKG")
    return path


def write_parquet(data: ExportData, folder: Path, stem: str) -> list[Path]:
    """One GeoParquet file per spatial layer, with the sources and rule in its metadata."""
    out = []
    meta = json.dumps(metadata(data), ensure_ascii=False)
    for layer, frame in (("lsoa_measures", data.lsoas), ("services", data.services),
                         ("resident_needs", data.needs)):
        path = folder / f"{stem}-{layer}.parquet"
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        table = pq.read_table(io.BytesIO(buffer.getvalue()))
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"needsmap": meta.encode("utf-8")})
        pq.write_table(table, path)
        out.append(path)
    return out


def summary_text(data: ExportData) -> str:
    """Sources, licences and the suppression rule in one paragraph."""
    sources = "; ".join(f"{r.title} ({r.publisher}; {r.vintage}; {r.licence})"
                        for r in data.sources.itertuples())
    return (f"Made by needsmap on {data.generated.isoformat()} for {data.area.title}. "
            f"Coordinates: British National Grid ({CRS}). Sources: {sources}. "
            f"Disclosure control: {data.rule}")


def metadata(data: ExportData) -> dict[str, object]:
    return {
        "title": f"needsmap export: {data.area.title}",
        "area": {"kind": data.area.kind, "code": data.area.code, "name": data.area.name,
                 "lad_code": data.area.lad_code, "lad_name": data.area.lad_name,
                 "authorities": dict(zip(data.area.authorities, data.area.authority_names)),
                 "lsoas": list(data.area.lsoas)},
        "generated": data.generated.isoformat(),
        "needsmap_version": needsmap.__version__,
        "crs": CRS,
        "iod_release": data.release,
        "suppression_rule": data.rule,
        "sources": json.loads(data.sources.to_json(orient="records")),
        "attribution": data.attribution,
        "layers": LAYERS,
        "columns": data.columns,
    }


def _where(area: Area) -> str:
    """'in Trafford (E08000009)', or the authorities of an area of several."""
    if area.single_authority:
        return f"in {area.lad_name} ({area.lad_code})"
    return f"across {len(area.authorities)} authorities (" + ", ".join(
        f"{n} ({c})" for c, n in zip(area.authorities, area.authority_names)) + ")"


def readme(data: ExportData, files: list[str]) -> str:
    """The README that travels with every export (Markdown, readable as plain text)."""
    lines = [
        f"# needsmap export: {data.area.title}",
        "",
        f"Made on {data.generated:%d %B %Y} by needsmap {needsmap.__version__}. "
        f"{areas.KINDS[data.area.kind]}"
        + ("" if data.area.kind in ("lad", "selection") else f" {data.area.code}")
        + f" {_where(data.area)}; {len(data.area.lsoas)} small areas (LSOA 2021).",
        "",
        "## Files",
        *[f"- `{f}`" for f in files],
        "",
        "CSV: one row per small area with every measure, UTF-8, no geometry. GeoPackage: layers "
        + ", ".join(f"`{k}`" for k in LAYERS) + " and `column_notes`; open it in QGIS with "
        "Layer > Add Layer > Add Vector Layer. GeoParquet: one file per spatial layer "
        f"(GeoParquet 1.x, readable by QGIS 3.28+, GDAL, geopandas). Coordinates: British National "
        f"Grid ({CRS}).",
        "",
        "## Layers",
        *[f"- `{k}`: {v}" for k, v in LAYERS.items()],
        "",
        "## Protecting residents",
        data.rule,
        "Residents' exact places, postcodes and contact details are never exported: needs are "
        "counted by small area (LSOA, about 1,500 residents).",
        "",
        "## Sources, licences and vintages",
        "| dataset | publisher | vintage | licence | loaded |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {r.title} | {r.publisher} | {r.vintage} | {r.licence} | {r.loaded} |"
          for r in data.sources.itertuples()],
        "",
        "## Attribution",
        *[f"- {line}" for line in data.attribution],
        "",
        "## Columns",
        *[f"- `{k}`: {v}" for k, v in data.columns.items()],
        "",
        "## Method",
        gaps.METHOD,
        "",
    ]
    return "\n".join(lines)


def write_all(data: ExportData, folder: Path, formats: tuple[str, ...] = FORMATS, *,
              report: reports.AreaReport | None = None) -> dict[str, Path]:
    """Write the chosen formats, a README.md and metadata.json, and a zip of them all."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    stem = base_name(data)
    written: dict[str, Path] = {}
    if "html" in formats or "pdf" in formats:
        if report is None:
            raise ValueError("a report is needed to write html or pdf")
        html = reports.render_html(report)
        if "html" in formats:
            written["html"] = folder / f"{stem}.html"
            written["html"].write_text(html, encoding="utf-8")
        if "pdf" in formats:
            written["pdf"] = folder / f"{stem}.pdf"
            written["pdf"].write_bytes(reports.render_pdf(report, html))
    if "csv" in formats:
        written["csv"] = write_csv(data, folder / f"{stem}.csv")
    if "gpkg" in formats:
        written["gpkg"] = write_gpkg(data, folder / f"{stem}.gpkg")
    if "parquet" in formats:
        for path in write_parquet(data, folder, stem):
            written[f"parquet:{path.stem.removeprefix(stem + '-')}"] = path
    names = [p.name for p in written.values()]
    written["readme"] = folder / f"{stem}-README.md"
    written["readme"].write_text(readme(data, names), encoding="utf-8")
    written["metadata"] = folder / f"{stem}-metadata.json"
    written["metadata"].write_text(json.dumps(metadata(data), indent=2, ensure_ascii=False),
                                   encoding="utf-8")
    written["zip"] = folder / f"{stem}.zip"
    with zipfile.ZipFile(written["zip"], "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for key, path in written.items():
            if key != "zip":
                bundle.write(path, arcname=path.name)
    return written


def make(con: duckdb.DuckDBPyConnection, user_store: UserStore, area: Area, settings: Settings,
         folder: Path, formats: tuple[str, ...] = FORMATS, *,
         pack: bool = False,
         weighting: rounds.Weighting | None = None) -> tuple[dict[str, Path], reports.AreaReport | None]:
    """The report (when PDF or HTML is asked for) and exports of one area, written to ``folder``:
    what the CLI and the Reports page both do. The files by key, and the report (a pack with
    ``weighting`` applies that community weighting to its gaps)."""
    ev = reports.evidence(con, user_store, area.lad_code, settings, lsoas=reports.frame_lsoas(area))
    data = gather(con, user_store, area, settings, ev=ev)
    report = (reports.build(con, user_store, area, settings, pack=pack, ev=ev, weighting=weighting)
              if {"pdf", "html"} & set(formats) else None)
    return write_all(data, folder, formats, report=report), report
