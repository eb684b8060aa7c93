"""The English Indices of Deprivation in one place: releases, domains and their names.

Every stage names a domain by its id (``imd``, ``income``...). The publisher's header words
(how ingest finds a column), the plain label under a figure, the short label in a sentence and
the number of LSOAs each release ranks are all written here, once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    id: str
    publisher: str  # the words File 7 headers start with
    label: str      # the plain name under a figure
    short: str      # the name inside a sentence ("IMD decile 1")


# In the publisher's order.
DOMAIN_LIST: tuple[Domain, ...] = (
    Domain("imd", "Index of Multiple Deprivation (IMD)",
           "Overall deprivation (Index of Multiple Deprivation)", "IMD"),
    Domain("income", "Income", "Income", "Income"),
    Domain("employment", "Employment", "Employment", "Employment"),
    Domain("education", "Education, Skills and Training", "Education, skills and training",
           "Education"),
    Domain("health", "Health Deprivation and Disability", "Health and disability", "Health"),
    Domain("crime", "Crime", "Crime", "Crime"),
    Domain("barriers", "Barriers to Housing and Services", "Barriers to housing and services",
           "Barriers to housing and services"),
    Domain("living_environment", "Living Environment", "Living environment", "Living environment"),
    Domain("idaci", "Income Deprivation Affecting Children Index (IDACI)",
           "Income deprivation affecting children (IDACI)", "IDACI"),
    Domain("idaopi", "Income Deprivation Affecting Older People (IDAOPI)",
           "Income deprivation affecting older people (IDAOPI)", "IDAOPI"),
)
DOMAINS: tuple[str, ...] = tuple(d.id for d in DOMAIN_LIST)
DOMAIN_LABELS: dict[str, str] = {d.id: d.label for d in DOMAIN_LIST}
SHORT_LABELS: dict[str, str] = {d.id: d.short for d in DOMAIN_LIST}
# Publisher words -> id, longest first, so "Income Deprivation Affecting Children Index
# (IDACI)" is not taken for "Income".
PUBLISHER_NAMES: dict[str, str] = {
    d.publisher: d.id for d in sorted(DOMAIN_LIST, key=lambda d: -len(d.publisher))}


@dataclass(frozen=True)
class Release:
    year: int
    dataset_id: str
    lsoa_year: int         # the small areas it is published on (LSOA 2021 or 2011)
    lsoas_in_england: int  # N: how many LSOAs it ranks


RELEASES: dict[int, Release] = {
    2025: Release(2025, "iod2025", 2021, 33_755),
    2019: Release(2019, "iod2019", 2011, 32_844),
}
DEFAULT_RELEASE = 2025
LSOAS_IN_ENGLAND: dict[int, int] = {r.year: r.lsoas_in_england for r in RELEASES.values()}


def lsoa_level(release: int) -> str:
    """The boundary level the release is published on."""
    return "lsoa21" if release >= 2021 else "lsoa11"
