"""Where a charity operates, from the register's area-of-operation table, as our area codes.

The table names places in the Commission's own words: a "Local Authority" row names an upper
tier authority ("Manchester City", "Kingston Upon Hull City", "Kent", "Durham"), a "Region"
row "Throughout London" or "Throughout England And Wales", a "Country" row a nation. Names are
matched to the authorities of the LSOA lookup after normalising both spellings (case, "&",
full stops, "City of"/"County of"); a county is its districts (``COUNTIES``, the 21 county
councils of 2024, plus the two counties split into unitary authorities in 2021 and 2023 whose
old names charities still give). What cannot be matched is counted, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENGLAND = "E92000001"
LONDON = "E12000007"

COUNTIES: dict[str, tuple[str, ...]] = {
    "Cambridgeshire": ("Cambridge", "East Cambridgeshire", "Fenland", "Huntingdonshire",
                       "South Cambridgeshire"),
    "Derbyshire": ("Amber Valley", "Bolsover", "Chesterfield", "Derbyshire Dales", "Erewash",
                   "High Peak", "North East Derbyshire", "South Derbyshire"),
    "Devon": ("East Devon", "Exeter", "Mid Devon", "North Devon", "South Hams", "Teignbridge",
              "Torridge", "West Devon"),
    "East Sussex": ("Eastbourne", "Hastings", "Lewes", "Rother", "Wealden"),
    "Essex": ("Basildon", "Braintree", "Brentwood", "Castle Point", "Chelmsford", "Colchester",
              "Epping Forest", "Harlow", "Maldon", "Rochford", "Tendring", "Uttlesford"),
    "Gloucestershire": ("Cheltenham", "Cotswold", "Forest of Dean", "Gloucester", "Stroud",
                        "Tewkesbury"),
    "Hampshire": ("Basingstoke and Deane", "East Hampshire", "Eastleigh", "Fareham", "Gosport",
                  "Hart", "Havant", "New Forest", "Rushmoor", "Test Valley", "Winchester"),
    "Hertfordshire": ("Broxbourne", "Dacorum", "East Hertfordshire", "Hertsmere",
                      "North Hertfordshire", "St Albans", "Stevenage", "Three Rivers", "Watford",
                      "Welwyn Hatfield"),
    "Kent": ("Ashford", "Canterbury", "Dartford", "Dover", "Folkestone and Hythe", "Gravesham",
             "Maidstone", "Sevenoaks", "Swale", "Thanet", "Tonbridge and Malling",
             "Tunbridge Wells"),
    "Lancashire": ("Burnley", "Chorley", "Fylde", "Hyndburn", "Lancaster", "Pendle", "Preston",
                   "Ribble Valley", "Rossendale", "South Ribble", "West Lancashire", "Wyre"),
    "Leicestershire": ("Blaby", "Charnwood", "Harborough", "Hinckley and Bosworth", "Melton",
                       "North West Leicestershire", "Oadby and Wigston"),
    "Lincolnshire": ("Boston", "East Lindsey", "Lincoln", "North Kesteven", "South Holland",
                     "South Kesteven", "West Lindsey"),
    "Norfolk": ("Breckland", "Broadland", "Great Yarmouth", "King's Lynn and West Norfolk",
                "North Norfolk", "Norwich", "South Norfolk"),
    "Nottinghamshire": ("Ashfield", "Bassetlaw", "Broxtowe", "Gedling", "Mansfield",
                        "Newark and Sherwood", "Rushcliffe"),
    "Oxfordshire": ("Cherwell", "Oxford", "South Oxfordshire", "Vale of White Horse",
                    "West Oxfordshire"),
    "Staffordshire": ("Cannock Chase", "East Staffordshire", "Lichfield", "Newcastle-under-Lyme",
                      "South Staffordshire", "Stafford", "Staffordshire Moorlands", "Tamworth"),
    "Suffolk": ("Babergh", "East Suffolk", "Ipswich", "Mid Suffolk", "West Suffolk"),
    "Surrey": ("Elmbridge", "Epsom and Ewell", "Guildford", "Mole Valley", "Reigate and Banstead",
               "Runnymede", "Spelthorne", "Surrey Heath", "Tandridge", "Waverley", "Woking"),
    "Warwickshire": ("North Warwickshire", "Nuneaton and Bedworth", "Rugby", "Stratford-on-Avon",
                     "Warwick"),
    "West Sussex": ("Adur", "Arun", "Chichester", "Crawley", "Horsham", "Mid Sussex", "Worthing"),
    "Worcestershire": ("Bromsgrove", "Malvern Hills", "Redditch", "Worcester", "Wychavon",
                       "Wyre Forest"),
    # abolished, but still the name many charities registered under
    "Cumbria": ("Cumberland", "Westmorland and Furness"),
    "Northamptonshire": ("North Northamptonshire", "West Northamptonshire"),
}
# Former authorities the register may still name, and the authority that holds them now.
FORMER: dict[str, tuple[str, ...]] = {
    "Bournemouth": ("Bournemouth, Christchurch and Poole",),
    "Poole": ("Bournemouth, Christchurch and Poole",),
    "Christchurch": ("Bournemouth, Christchurch and Poole",),
}
ENGLAND_WIDE = {"throughout england", "throughout england and wales", "england"}
LONDON_WIDE = {"throughout london", "greater london", "throughout greater london"}


def area_key(name: str) -> str:
    """A spelling-proof key for an authority's name: "Kingston upon Hull, City of", "Kingston
    Upon Hull City" and "kingston upon hull" all give "kingston upon hull"."""
    text = name.lower().replace("&", " and ")
    text = re.sub(r"[.,'’]", "", text).replace("-", " ")
    text = " ".join(text.split())
    text = re.sub(r"^(city of|county) ", "", text)
    text = re.sub(r" (city of|city|county of)$", "", text)
    return text


@dataclass(frozen=True)
class Operates:
    """Where one area-of-operation row puts a charity: ``kind`` 'authority' (named, or a county
    of named districts), 'region' or 'england' with the codes; 'elsewhere' (Wales, Scotland,
    abroad) or 'unmatched' with none."""
    kind: str
    codes: tuple[str, ...] = ()


class AreaMatcher:
    """Matches the register's place names to the store's authorities."""

    def __init__(self, authorities: dict[str, str]) -> None:
        """``authorities``: LAD code -> name, for every English authority in the lookup."""
        self.by_key = {area_key(name): code for code, name in authorities.items()}
        self.groups: dict[str, tuple[str, ...]] = {}
        for group, members in [*COUNTIES.items(), *FORMER.items()]:
            codes = tuple(self.by_key[area_key(m)] for m in members if area_key(m) in self.by_key)
            if codes:
                self.groups[area_key(group)] = codes

    def match(self, area_type: str, description: str, welsh: bool = False) -> Operates:
        """Where the row puts the charity (see ``Operates``)."""
        key = area_key(description or "")
        kind = (area_type or "").strip().lower()
        if key in ENGLAND_WIDE:
            return Operates("england", (ENGLAND,))
        if key in LONDON_WIDE:
            return Operates("region", (LONDON,))
        if kind == "local authority":
            if welsh:
                return Operates("elsewhere")
            if key in self.by_key:
                return Operates("authority", (self.by_key[key],))
            if key in self.groups:
                return Operates("authority", self.groups[key])
            return Operates("unmatched")
        return Operates("elsewhere")  # another nation, a continent, a country abroad
