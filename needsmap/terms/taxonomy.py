"""One shared list of categories for services and residents' needs.

The same ids are used for provision (what exists) and need (what residents report), so gap
analysis can compare like with like. Colours are a colour-blind-safe qualitative set (Okabe-Ito
plus greys), so categories stay distinguishable on the map for most readers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    colour: str
    need: bool  # offered to residents on the "report a need" form
    keywords: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category("food", "Food", "#E69F00", True, ("food bank", "food", "pantry", "meal", "hub")),
    Category("housing", "Housing", "#56B4E9", True, ("housing", "homeless", "shelter", "tenancy")),
    Category("mental_health", "Mental health", "#009E73", True,
             ("mental", "wellbeing", "counselling", "anxiety", "depression", "mind")),
    Category("loneliness", "Loneliness and isolation", "#F0E442", True,
             ("lonel", "isolation", "befriend", "social group", "community centre", "community hub")),
    Category("youth", "Young people", "#0072B2", True, ("youth", "young people", "teen")),
    Category("older_people", "Older people", "#D55E00", True,
             ("older", "elderly", "age uk", "care home", "dementia", "retire")),
    Category("transport", "Transport", "#CC79A7", True, ("transport", "bus", "travel")),
    Category("money_advice", "Money and advice", "#882255", True,
             ("advice", "debt", "benefit", "money", "citizens advice", "jobcentre")),
    Category("disability", "Disability", "#44AA99", True, ("disab", "learning difficult", "autism")),
    Category("health", "Health (GP, pharmacy, dentist)", "#117733", False,
             ("gp", "surgery", "medical", "pharmacy", "chemist", "dentist", "dental", "health")),
    Category("children_families", "Children and families", "#332288", False,
             ("children", "family", "families", "parent", "sure start", "nursery")),
    Category("library", "Libraries", "#999933", False, ("library",)),
    Category("community_space", "Community spaces", "#AA4499", False,
             ("community centre", "village hall", "church hall", "worship", "mosque", "church")),
    Category("other", "Other", "#777777", True, ()),
)

BY_ID = {c.id: c for c in CATEGORIES}
NEED_CATEGORIES = tuple(c for c in CATEGORIES if c.need)


def label(category_id: str) -> str:
    return BY_ID[category_id].label if category_id in BY_ID else category_id


def colour(category_id: str) -> str:
    return BY_ID.get(category_id, BY_ID["other"]).colour
