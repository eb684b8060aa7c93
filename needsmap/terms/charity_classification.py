"""The Charity Commission's own classification codes, and which of our categories each means.

Every registered charity ticks codes of three kinds in its annual return: what it does
(101-117), who it helps (201-207) and how it works (301-310). The register publishes them in
``publicextract.charity_classification`` (``classification_code``, ``classification_type``
What/Who/How, ``classification_description``). A code names one of our categories only where
the words mean the same thing; "general charitable purposes", "makes grants to
organisations" and the like say nothing about the kind of provision, so they name none, and a
charity whose codes name none is categorised from its name and activities instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: int
    kind: str         # What, Who or How, as the register writes classification_type
    description: str  # as published (the register title-cases it: "Elderly/old People")
    category: str | None = None  # our taxonomy id, or None where the code says nothing of it
    # categories the charity's own words may narrow the code to ("poverty" relief that is a food
    # bank is food provision); only these, never a category the code does not allow
    refine: tuple[str, ...] = ()


CODES: tuple[Code, ...] = (
    Code(101, "What", "General Charitable Purposes"),
    Code(102, "What", "Education/training"),
    Code(103, "What", "The Advancement Of Health Or Saving Of Lives", "health", ("mental_health",)),
    Code(104, "What", "Disability", "disability"),
    Code(105, "What", "The Prevention Or Relief Of Poverty", "money_advice", ("food", "housing")),
    Code(106, "What", "Overseas Aid/famine Relief"),
    Code(107, "What", "Accommodation/housing", "housing"),
    Code(108, "What", "Religious Activities", "community_space"),
    Code(109, "What", "Arts/culture/heritage/science"),
    Code(110, "What", "Amateur Sport"),
    Code(111, "What", "Animals"),
    Code(112, "What", "Environment/conservation/heritage"),
    Code(113, "What", "Economic/community Development/employment"),
    Code(114, "What", "Armed Forces/emergency Service Efficiency"),
    Code(115, "What", "Human Rights/religious Or Racial Harmony/equality Or Diversity"),
    Code(116, "What", "Recreation", "community_space"),
    Code(117, "What", "Other Charitable Purposes"),
    Code(201, "Who", "Children/young People", "youth", ("children_families",)),
    Code(202, "Who", "Elderly/old People", "older_people"),
    Code(203, "Who", "People With Disabilities", "disability"),
    Code(204, "Who", "People Of A Particular Ethnic Or Racial Origin"),
    Code(205, "Who", "Other Charities Or Voluntary Bodies"),
    Code(206, "Who", "Other Defined Groups"),
    Code(207, "Who", "The General Public/mankind"),
    Code(301, "How", "Makes Grants To Individuals"),
    Code(302, "How", "Makes Grants To Organisations"),
    Code(303, "How", "Provides Other Finance"),
    Code(304, "How", "Provides Human Resources"),
    Code(305, "How", "Provides Buildings/facilities/open Space", "community_space"),
    Code(306, "How", "Provides Services"),
    Code(307, "How", "Provides Advocacy/advice/information", "money_advice"),
    Code(308, "How", "Sponsors Or Undertakes Research"),
    Code(309, "How", "Acts As An Umbrella Or Resource Body"),
    Code(310, "How", "Other Charitable Activities"),
)
BY_CODE = {c.code: c for c in CODES}

# When a charity's codes name several categories, the first of these wins: a named group of
# people or a specific need (housing, disability) says more about what residents find there
# than the broad "health" or "poverty" heads, and a building is the least specific of all.
PRECEDENCE: tuple[int, ...] = (107, 104, 203, 202, 201, 103, 105, 307, 305, 108, 116)


def category_of(codes: set[int]) -> Code | None:
    """The code that decides the charity's category (by ``PRECEDENCE``), or None when none of
    its codes names one of ours."""
    return next((BY_CODE[c] for c in PRECEDENCE if c in codes), None)
