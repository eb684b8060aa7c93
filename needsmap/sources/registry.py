"""The source registry: every dataset needsmap can load, with where it comes from.

One entry per dataset. ``url`` is the publisher's own download address (``None`` where the
publisher offers only a portal page, given in ``page``); ``mirror_path`` is where the same
data sits in an offline mirror. A mirror is a folder (or a base URL) laid out like
``../shared/data``: ``<mirror>/<mirror_path>``. See docs/mirror.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from needsmap.errors import ConfigError

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
ENGLAND = "E92000001"  # the GSS code of England: what a dataset covers unless it says otherwise
TRAFFORD = "E08000009"
GREATER_MANCHESTER = "E47000001"  # the combined authority: its ten authorities


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
    # The place the dataset covers, as a GSS code: England, one authority (E06-E09) or a combined
    # authority (E47). A dataset is loaded for an area only when the two overlap; for any other
    # area it is simply not that area's, never an error.
    covers: str = ENGLAND

    @property
    def filename(self) -> str:
        """File name for the local cache."""
        if self.mirror_path:
            return self.mirror_path.rsplit("/", 1)[-1]
        return f"{self.id}.{self.extension}"

    @property
    def extension(self) -> str:
        """The file extension readers go by: 'zip-json' is a zip, 'arcgis-geojson' GeoJSON."""
        if self.format.startswith("zip"):
            return "zip"
        return "geojson" if self.format == "arcgis-geojson" else self.format


ONS_DATASETS = "https://geoportal.statistics.gov.uk/datasets/ons::"


def _ons_lookup(dataset_id: str, title: str, service: str, page: str, vintage: str, geography: str,
                file: str, notes: str = "") -> Dataset:
    """One of the ONS Open Geography Portal's English lookups (the areas beyond one authority),
    served as a table by the portal's ArcGIS FeatureServer (paged GeoJSON, no geometry)."""
    return Dataset(
        id=dataset_id, title=title, publisher="Office for National Statistics (Open Geography Portal)",
        url=f"{ARCGIS}/{service}/FeatureServer/0/query", page=f"{ONS_DATASETS}{page}/about",
        licence=OGL, attribution=ONS_ATTRIBUTION, vintage=vintage, geography=geography,
        format="arcgis-geojson", mirror_path=f"england/lookups/{file}", group="lookups", notes=notes,
    )


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
    # The services below are those the mirror's files were written from (humaniverse/geographr,
    # data-raw/query-urls.R at c026be5, which also names each dataset's page).
    _ons_lookup("lookup_lsoa21_icb24",
                "LSOA (2021) to sub-ICB location to Integrated Care Board (2024), England",
                "LSOA21_SICBL24_ICB24_CAL24_LAD24_EN_LU",
                "lsoa-2021-to-sicbl-to-icb-to-cancer-alliances-to-lad-april-2024-lookup-in-en",
                "LSOA Dec 2021; sub-ICB locations and ICBs 2024",
                "LSOA 2021", "lsoa21_sicbl24_icb24_england.csv",
                notes="42 Integrated Care Boards and 106 sub-ICB locations; 13 authorities are "
                      "split between ICBs, so an NHS area is a set of small areas, not of "
                      "authorities. The portal titles this service April 2024; the mirror's "
                      "MANIFEST calls its copy the July 2024 lookup."),
    _ons_lookup("lookup_lad24_region24", "Local authority district (2024) to region, England",
                "LAD24_RGN24_EN_LU", "local-authority-district-to-region-december-2024-lookup-in-en",
                "2024 (the portal's December 2024 lookup)", "LAD 2024", "lad24_region24_england.csv"),
    _ons_lookup("lookup_lad23_cauth23",
                "Local authority district (December 2023) to combined authority, England",
                "LAD23_CAUTH23_EN_LU",
                "local-authority-district-to-combined-authority-december-2023-lookup-in-en",
                "December 2023", "LAD 2023", "lad23_cauth23_england.csv",
                notes="The ten combined authorities of 2023; those created later are not in it."),
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

OS_POSTCODE_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right 2025. Contains Royal Mail data © Royal "
    "Mail copyright and database right 2025. Source: Office for National Statistics licensed "
    "under the Open Government Licence v3.0."
)
OGL_ATTRIBUTION = "Contains public sector information licensed under the Open Government Licence v3.0."
TRAFFORD_LAB = "https://www.trafforddatalab.io/data.html"
CCEW_EXTRACT = "https://ccewuksprdoneregsadata1.blob.core.windows.net/data"


def _local_list(key: str, title: str, publisher: str, category: str, attribution: str = OGL_ATTRIBUTION,
                licence: str = OGL, vintage: str = "as published by Trafford Data Lab",
                notes: str = "") -> Dataset:
    """A Trafford list of places (one file in the mirror's trafford/services/)."""
    return Dataset(
        id=f"services_trafford_{key}", title=title, publisher=publisher, url=None, page=TRAFFORD_LAB,
        licence=licence, attribution=attribution, vintage=vintage, geography="point",
        format="csv", mirror_path=LOCAL_LIST_FILES[key], group="services",
        notes=f"default category: {category}. {notes}".strip(),
        covers=GREATER_MANCHESTER if key.startswith("gm_") else TRAFFORD,
    )


def _grants(form: str, group: str, notes: str = "") -> Dataset:
    """Trafford Council's voluntary sector grants, in one of the two 360Giving forms."""
    return Dataset(
        id="grants_trafford_360giving" + ("" if form == "json" else f"_{form}"),
        title=f"Trafford Council voluntary sector grants (360Giving {form.upper()})",
        publisher="Trafford Council (360Giving data standard)",
        url=None, page="https://www.trafford.gov.uk/about-your-council/open-data/",
        licence=OGL, attribution="Trafford Council; " + OGL_ATTRIBUTION, vintage="2013 onwards",
        geography="beneficiary location (LAD, ward or LSOA code)", format=form,
        mirror_path=f"trafford/services/trafford_council_vcs_grants_360giving.{form}", group=group,
        notes=notes, covers=TRAFFORD,
    )


LOCAL_LIST_FILES = {
    "food_banks": "trafford/services/trafford_food_banks.csv",
    "gp_practices": "trafford/services/trafford_general_practices.csv",
    "pharmacies": "trafford/services/trafford_pharmacies.csv",
    "libraries": "trafford/services/trafford_libraries.csv",
    "mental_health": "trafford/services/trafford_mental_health_services.csv",
    "community_hubs": "trafford/services/trafford_community_hubs.csv",
    "dentists": "trafford/services/trafford_dentists.csv",
    "care_homes": "trafford/services/trafford_care_homes.csv",
    "childrens_centres": "trafford/services/trafford_childrens_centres.csv",
    "jobcentres": "trafford/services/trafford_jobcentreplus.csv",
    # All of Greater Manchester: food banks just outside Trafford count for its edge areas.
    "gm_food_banks": "trafford/services/gm_food_banks.csv",
}
# Each local list's category when the file's own type column does not name one.
LOCAL_LIST_CATEGORIES = {
    "food_banks": "food", "gp_practices": "health", "pharmacies": "health", "libraries": "library",
    "mental_health": "mental_health", "community_hubs": "community_space", "dentists": "health",
    "care_homes": "older_people", "childrens_centres": "children_families",
    "jobcentres": "money_advice", "gm_food_banks": "food",
}

ODS_FILES = "https://files.digital.nhs.uk/assets/ods/current"
ODS_PAGES = "https://digital.nhs.uk/services/organisation-data-service/export-data-files/csv-downloads"
ODS_ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence "
                   "v3.0 (NHS England, Organisation Data Service).")


def _ods(dataset_id: str, file: str, title: str, page: str, vintage: str, notes: str) -> Dataset:
    """One of NHS England's ODS CSV downloads (headerless, 27 columns; zipped by the publisher)."""
    return Dataset(
        id=dataset_id, title=title, publisher="NHS England, Organisation Data Service (ODS)",
        url=f"{ODS_FILES}/{file}.zip", page=f"{ODS_PAGES}/{page}", licence=OGL,
        attribution=ODS_ATTRIBUTION, vintage=vintage, geography="postcode", format="zip-csv",
        mirror_path=f"england/services/{file}.csv", group="services", notes=notes,
    )


CCEW_PAGE = "https://register-of-charities.charitycommission.gov.uk/register/full-register-download"
CCEW_ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence "
                    "v3.0 (Charity Commission for England and Wales, register of charities).")


def _charity_register(table: str, dataset_id: str, what: str, geography: str, notes: str) -> Dataset:
    """One table of the Charity Commission's daily full extract: one zip a table, of one JSON
    array (``data/json/``) or of one tab-separated text file (``data/txt/``); a mirror keeps the
    publisher's layout under ``england/charities/``."""
    return Dataset(
        id=dataset_id, title=f"Charity Commission register of charities, daily full extract ({what})",
        publisher="Charity Commission for England and Wales",
        url=f"{CCEW_EXTRACT}/json/publicextract.{table}.zip", page=CCEW_PAGE,
        licence=OGL, attribution=CCEW_ATTRIBUTION, vintage="daily full extract", geography=geography,
        format="zip-json", mirror_path=f"england/charities/json/publicextract.{table}.zip",
        group="charities_register",
        notes=f"Text form: {CCEW_EXTRACT}/txt/publicextract.{table}.zip. {notes}",
    )


def text_form(dataset: Dataset) -> Dataset:
    """The same register table in the Commission's tab-separated text form (``txt/``)."""
    if dataset.format != "zip-json" or not dataset.url or "/json/" not in dataset.url:
        raise ConfigError(f"{dataset.id} has no text form")
    return replace(dataset, url=dataset.url.replace("/json/", "/txt/"), format="zip-txt",
                   mirror_path=(dataset.mirror_path or "").replace("/json/", "/txt/") or None)


SERVICE_DATASETS: tuple[Dataset, ...] = (
    Dataset(
        id="postcodes_onspd_trafford",
        title="ONS Postcode Directory (February 2025), Trafford extract with LSOA 2021",
        publisher="Office for National Statistics (via Trafford Data Lab)",
        url=None, page="https://geoportal.statistics.gov.uk/search?q=ONSPD",
        licence=OGL, attribution=OS_POSTCODE_ATTRIBUTION, vintage="ONSPD February 2025",
        geography="postcode", format="csv",
        mirror_path="trafford/postcodes/trafford_postcodes_onspd_feb2025.csv", group="postcodes",
        notes="Includes terminated postcodes; lon/lat are postcode centroids.", covers=TRAFFORD,
    ),
    Dataset(
        id="postcodes_england",
        title="Code-Point Open (May 2025) postcodes for England with LSOA 2011",
        publisher="Ordnance Survey (Code-Point Open) and ONS",
        url=None, page="https://osdatahub.os.uk/downloads/open/CodePointOpen",
        licence=OGL, attribution=OS_POSTCODE_ATTRIBUTION, vintage="Code-Point Open May 2025",
        geography="postcode", format="parquet",
        mirror_path="england/postcodes/england_postcodes_codepoint2025_lsoa11.parquet",
        group="postcodes",
        notes="Live postcodes only; LSOA 2021 is assigned by point in polygon.",
    ),
    Dataset(
        id="postcodes_io",
        title="postcodes.io bulk postcode look-up (online fallback)",
        publisher="postcodes.io (Ideal Postcodes), from ONSPD",
        url="https://api.postcodes.io/postcodes", licence=OGL, attribution=OS_POSTCODE_ATTRIBUTION,
        vintage="live", geography="postcode", format="json", mirror_path=None, group="online",
        notes="Used only when NEEDSMAP_POSTCODES_ONLINE is set; up to 100 postcodes a request.",
    ),
    Dataset(
        id="oruk",
        title="Open Referral UK (HSDS-UK) service directories configured for the area",
        publisher="Each council's or provider's Open Referral UK feed",
        url=None, page="https://openreferraluk.org/",
        licence="as each feed states (schema CC BY-SA 4.0)",
        attribution="Human Services Data Specification: an Open Referral resource (https://openreferral.org/)",
        vintage="live", geography="point", format="hsds-uk",
        mirror_path="formats/oruk_uk_profile_examples", group="oruk",
        notes="Feeds are NEEDSMAP_ORUK_FEEDS (base URLs or dump folders); the mirror has only "
              "the synthetic uk-profile examples.",
    ),
    Dataset(
        id="charities_trafford",
        title="Charity Commission register: charities operating in Trafford",
        publisher="Charity Commission for England and Wales (via Trafford Data Lab)",
        url=None, page="https://register-of-charities.charitycommission.gov.uk/register/full-register-download",
        licence=OGL, attribution=OGL_ATTRIBUTION, vintage="register extract, April 2023",
        geography="area of operation E08000009; contact postcode", format="csv",
        mirror_path="trafford/services/charities_operating_in_trafford.csv", group="services",
        notes="Every row operates in Trafford (E08000009); the address is the head office.",
        covers=TRAFFORD,
    ),
    _charity_register(
        "charity", "charities_register", "charity table", "contact postcode (head office)",
        notes="Registered main charities only (removed and linked charities are left out with a "
              "count), placed by contact postcode: the head office, not where services are given. "
              "Categorised from charities_classification, and said to operate where "
              "charities_area_of_operation names (an authority, its county, London, England)."),
    _charity_register(
        "charity_classification", "charities_classification", "classification table",
        "charity number", notes="What/Who/How codes (101-117, 201-207, 301-310); read with "
                                "charities_register to choose each charity's category."),
    _charity_register(
        "charity_area_of_operation", "charities_area_of_operation", "area of operation table",
        "local authority, region or country named",
        notes="Read with charities_register: where each charity says it operates."),
    _grants("json", "services"),
    _grants("csv", "grants_csv", notes="The same grants as the JSON; load one or the other."),
    Dataset(
        id="osm_community",
        title="OpenStreetMap community facilities (community centres, food banks, libraries, social facilities)",
        publisher="OpenStreetMap contributors (Overpass API)",
        url="https://overpass-api.de/api/interpreter", licence="Open Database Licence (ODbL) 1.0",
        attribution="© OpenStreetMap contributors", vintage="live", geography="point",
        format="overpass-json", mirror_path=None, group="osm",
        notes="Queried for the loaded area's bounding box; no offline copy.",
    ),
    _ods("nhs_gp_practices", "epraccur", "NHS GP practices in England (ODS epraccur)",
         "gp-and-gp-practice-related-data", "ODS extract, mid/late 2025 (mirror copy)",
         "Active GP practices only: status A, no close date, prescribing setting 4 (GP practice); "
         "Welsh practices (national grouping W00) and other prescribing settings are left out."),
    _ods("nhs_pharmacies", "edispensary", "NHS community pharmacies in England (ODS edispensary)",
         "other-nhs-organisations", "ODS extract, spring 2025 (mirror copy)",
         "Active community pharmacies only: status A, no close date, sub-type 1 (pharmacy); "
         "appliance contractors and Welsh rows are left out."),
    _ods("nhs_dental_practices", "egdpprac", "NHS dental practices in England (ODS egdpprac)",
         "other-nhs-organisations", "ODS extract, c. May 2024 (mirror copy)",
         "Active dental practices only: status A, no close date; Welsh rows (W00) are left out."),
    Dataset(
        id="dcms_libraries", title="Public libraries in England: basic dataset",
        publisher="Department for Culture, Media and Sport (compiled by Libraries Hacked)",
        url=None, page="https://www.gov.uk/government/publications/public-libraries-in-england-basic-dataset",
        licence=OGL, attribution=OGL_ATTRIBUTION[:-1] + " (DCMS).", vintage="library status up to 2023",
        geography="postcode", format="csv",
        mirror_path="england/services/dcms_public_libraries_england_2023.csv", group="services",
        notes="Open static libraries only (no closure year, latest operation not Closed or Temporary "
              "Closure); mobile and prison libraries and archives are left out with a count. "
              "Kept current at https://github.com/LibrariesHacked/librarydata-db.",
    ),
    Dataset(
        id="osm_community_venues",
        title="OpenStreetMap community centres, village halls and social centres in England",
        publisher="OpenStreetMap contributors", url=None,
        page="https://wiki.openstreetmap.org/wiki/Tag:amenity%3Dcommunity_centre",
        licence="Open Database Licence (ODbL) 1.0", attribution="© OpenStreetMap contributors",
        vintage="Overpass extract of about June 2026", geography="point", format="geojson",
        mirror_path="england/services/osm_community_venues_england.geojson", group="services",
        notes="Points of amenity=community_centre, village_hall and social_centre in England (the "
              "Overpass query nwr[amenity~community_centre|village_hall|social_centre] in GB-ENG, "
              "centre points); no OSM ids or addresses. Online, osm_community queries Overpass.",
    ),
    _local_list("food_banks", "Trafford food banks", "GM Poverty Action (via Trafford Data Lab)", "food",
                attribution="Data gathered by GM Poverty Action",
                licence="Open Government Licence (as stated by Trafford Data Lab; verify)"),
    _local_list("gp_practices", "Trafford GP practices", "NHS Digital (ODS epraccur)", "health"),
    _local_list("pharmacies", "Trafford pharmacies", "NHS Business Services Authority", "health",
                vintage="Consolidated Pharmaceutical List 2024-25 Q4"),
    _local_list("libraries", "Trafford libraries", "DCMS, amended by Trafford Council", "library"),
    _local_list("mental_health", "Trafford mental health services", "Trafford Council", "mental_health",
                attribution="Trafford Council"),
    _local_list("community_hubs", "Trafford community hubs", "Trafford Council", "community_space"),
    _local_list("dentists", "Trafford dentists", "Care Quality Commission", "health",
                attribution="Uses information from the Care Quality Commission."),
    _local_list("care_homes", "Trafford care homes", "Care Quality Commission", "older_people"),
    _local_list("childrens_centres", "Trafford children's centres", "DfE Get Information about Schools",
                "children_families"),
    _local_list("jobcentres", "Trafford Jobcentre Plus offices", "Department for Work and Pensions",
                "money_advice"),
    _local_list("gm_food_banks", "Greater Manchester food banks", "GM Poverty Action (via Trafford Data Lab)",
                "food", attribution="Data gathered by GM Poverty Action",
                licence="Open Government Licence (as stated by Trafford Data Lab; verify)",
                notes="Covers all ten Greater Manchester authorities, so gap analysis counts food "
                      "banks just over Trafford's edge; Trafford's own rows match the Trafford list "
                      "and are de-duplicated against it."),
)

DATASETS = DATASETS + SERVICE_DATASETS
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
