"""The source registry: every dataset needsmap can load, with where it comes from.

One entry per dataset. ``url`` is the publisher's own download address (``None`` where the
publisher offers only a portal page, given in ``page``); ``mirror_path`` is where the same
data sits in an offline mirror. A mirror is a folder (or a base URL) laid out like
``../shared/data``: ``<mirror>/<mirror_path>``. See docs/mirror.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from needsmap._errors import ConfigError

OGL = "Open Government Licence v3.0"
OGL_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
ONS_ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right 2025."
)
MHCLG_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(English Indices of Deprivation, MHCLG)."
)
ARCGIS = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"


@dataclass(frozen=True)
class Dataset:
    id: str
    title: str
    publisher: str
    url: str | None
    licence: str
    attribution: str
    vintage: str
    geography: str  # "LSOA 2021", "LSOA 2011", "postcode", "point", ...
    format: str  # what the publisher serves: csv, gpkg, geojson, arcgis-geojson, zip-json ...
    mirror_path: str | None
    group: str
    page: str | None = None
    notes: str = ""

    @property
    def filename(self) -> str:
        """File name for the local cache."""
        if self.mirror_path:
            return self.mirror_path.rsplit("/", 1)[-1]
        ext = "geojson" if self.format == "arcgis-geojson" else self.format
        return f"{self.id}.{ext}"


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        id="lookup_lsoa21",
        title="LSOA (2021) to MSOA (2021), electoral ward (2024) and local authority (2024)",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=None,
        page="https://geoportal.statistics.gov.uk/search?q=LUP_LSOA_WD_LAD",
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="LSOA Dec 2021; wards and LADs May 2024",
        geography="LSOA 2021",
        format="csv",
        mirror_path="england/lookups/DERIVED_lsoa21_msoa21_ward24_lad24_england.csv",
        group="lookups",
        notes="Best-fit ward; the mirror file joins the ONS OA21 and ward24 lookups for England.",
    ),
    Dataset(
        id="lookup_lsoa11_lsoa21",
        title="LSOA (2011) to LSOA (2021) to local authority (2022), with change codes",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=None,
        page=(
            "https://geoportal.statistics.gov.uk/datasets/ons::lsoa-2011-to-lsoa-2021-to-"
            "local-authority-district-2022-lookup-for-england-and-wales-version-2/about"
        ),
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="December 2022 (version 2)",
        geography="LSOA 2011 to LSOA 2021",
        format="csv",
        mirror_path="england/lookups/lsoa11_lsoa21_lad22_ew.csv",
        group="lookups",
        notes="Change codes: U unchanged, S split, M merged, X irregular.",
    ),
    Dataset(
        id="boundaries_lsoa21",
        title="LSOA (December 2021) boundaries, England and Wales, generalised clipped",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=f"{ARCGIS}/Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BGC_V5/FeatureServer/0/query",
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="December 2021",
        geography="LSOA 2021",
        format="arcgis-geojson",
        mirror_path="england/boundaries/lsoa21_bsc_england.gpkg",
        group="boundaries",
        notes="The mirror copy is the super-generalised (BSC) cut for England.",
    ),
    Dataset(
        id="boundaries_lsoa11",
        title="LSOA (December 2011) boundaries, England and Wales, super generalised clipped",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=f"{ARCGIS}/Lower_Layer_Super_Output_Areas_December_2011_Boundaries_EW_BSC_V3/FeatureServer/0/query",
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="December 2011 (V3)",
        geography="LSOA 2011",
        format="arcgis-geojson",
        mirror_path="england/boundaries/lsoa11_bsc_england.gpkg",
        group="boundaries",
    ),
    Dataset(
        id="boundaries_msoa21",
        title="MSOA (December 2021) boundaries, England and Wales, super generalised clipped",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=f"{ARCGIS}/Middle_layer_Super_Output_Areas_December_2021_Boundaries_EW_BSC_V2/FeatureServer/0/query",
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="December 2021 (V2)",
        geography="MSOA 2021",
        format="arcgis-geojson",
        mirror_path="england/boundaries/msoa21_bsc_england.gpkg",
        group="boundaries",
    ),
    Dataset(
        id="boundaries_lad24",
        title="Local authority districts (May 2024) boundaries, UK, ultra generalised clipped",
        publisher="Office for National Statistics (Open Geography Portal)",
        url=f"{ARCGIS}/Local_Authority_Districts_May_2024_Boundaries_UK_BUC/FeatureServer/0/query",
        licence=OGL,
        attribution=ONS_ATTRIBUTION,
        vintage="May 2024",
        geography="LAD 2024",
        format="arcgis-geojson",
        mirror_path="england/boundaries/lad24_buc_uk.gpkg",
        group="boundaries",
        notes="Ward outlines are drawn from the LSOAs they best fit (see lookup_lsoa21).",
    ),
    Dataset(
        id="iod2025",
        title="English Indices of Deprivation 2025, File 7: all ranks, scores, deciles and denominators",
        publisher="Ministry of Housing, Communities and Local Government",
        url=(
            "https://assets.publishing.service.gov.uk/media/691ded56d140bbbaa59a2a7d/"
            "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
        ),
        page="https://www.gov.uk/government/statistics/english-indices-of-deprivation-2025",
        licence=OGL,
        attribution=MHCLG_ATTRIBUTION,
        vintage="IoD2025 (published 30 October 2025)",
        geography="LSOA 2021",
        format="csv",
        mirror_path="england/deprivation/iod2025_lsoa21_file7_style_subset.csv",
        group="deprivation",
        notes="The mirror copy has the first 28 columns (no IDACI/IDAOPI, no denominators).",
    ),
    Dataset(
        id="iod2019",
        title="English Indices of Deprivation 2019, File 7: all ranks, scores, deciles and denominators",
        publisher="Ministry of Housing, Communities and Local Government",
        url=(
            "https://assets.publishing.service.gov.uk/media/5dc407b440f0b6379a7acc8d/"
            "File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_Population_Denominators_3.csv"
        ),
        page="https://www.gov.uk/government/statistics/english-indices-of-deprivation-2019",
        licence=OGL,
        attribution=MHCLG_ATTRIBUTION,
        vintage="IoD2019 (published 26 September 2019)",
        geography="LSOA 2011",
        format="csv",
        mirror_path="england/deprivation/iod2019_lsoa11_file7_style_subset.csv",
        group="deprivation",
        notes="The mirror copy has 21 of the columns (IMD, income and employment scores).",
    ),
    Dataset(
        id="population_census2021",
        title="Census 2021 usual residents by broad age, LSOA 2021, England",
        publisher="Office for National Statistics (Nomis)",
        url=None,
        page="https://www.nomisweb.co.uk/sources/census_2021_bulk",
        licence=OGL,
        attribution=(
            "Source: Office for National Statistics licensed under the Open Government "
            "Licence v3.0 (Census 2021)."
        ),
        vintage="Census day, 21 March 2021",
        geography="LSOA 2021",
        format="csv",
        mirror_path="england/population/lsoa21_census2021_population_england.csv",
        group="population",
        notes="Cells carry ONS's small perturbations for disclosure control.",
    ),
)

_BY_ID = {d.id: d for d in DATASETS}


def get(dataset_id: str) -> Dataset:
    try:
        return _BY_ID[dataset_id]
    except KeyError:
        known = ", ".join(sorted(_BY_ID))
        raise ConfigError(f"unknown dataset {dataset_id!r}; known: {known}") from None


def groups() -> dict[str, list[Dataset]]:
    out: dict[str, list[Dataset]] = {}
    for d in _BY_ID.values():
        out.setdefault(d.group, []).append(d)
    return out
