"""Map data (analysis.maps, analysis.profile): legend wording, choropleth GeoJSON, area detail and provenance."""

from __future__ import annotations

import json
import re

import pytest

from needsmap.analysis import maps, profile
from needsmap.store import StoreReader, areas, provenance
from needsmap.terms import colours, taxonomy

from dashboard_support import SERVICES, TRAFFORD, store_with_services


@pytest.fixture(scope="module")
def con(trafford_store):
    return StoreReader(trafford_store.store_path).cursor()


def test_decile_legend_is_plain_words_with_darkest_first():
    legend = colours.decile_legend()
    assert [c.value for c in legend] == list(range(1, 11))
    assert legend[0].label == "1 = most deprived 10% in England"
    assert legend[-1].label == "10 = least deprived 10% in England"
    assert legend[1].label == "2 = 10% to 20% most deprived in England"
    assert len({c.colour for c in legend}) == 10
    assert legend[0].colour == colours.DECILE_COLOURS[0] == "#440154"


def test_score_classes_cover_the_scores():
    import pandas as pd
    scores = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    breaks = colours.score_breaks(scores)
    assert breaks[0] == 1.0 and breaks[-1] == 10.0
    assert colours.score_class(1.0, breaks) == 1
    assert colours.score_class(10.0, breaks) == colours.SCORE_CLASSES
    assert colours.score_class(None, breaks) is None
    legend = colours.score_legend(breaks, "Trafford")
    assert legend[0].label.endswith("(most deprived fifth of Trafford)")
    assert len(legend) == colours.SCORE_CLASSES
    # Every class reads differently (a browser check found three "middle fifth" labels).
    assert [lc.label.split("(")[1] for lc in legend][1:] == [
        "2nd most deprived fifth of Trafford)", "3rd most deprived fifth of Trafford)",
        "4th most deprived fifth of Trafford)", "least deprived fifth of Trafford)"]


def test_authorities_and_measures(con):
    lads = maps.authorities(con)
    assert list(lads["lad_name"]) == ["Trafford"]
    have, lacking = maps.measures(con, 2025)
    assert have[0] == "imd" and len(have) == 8
    assert lacking == ["idaci", "idaopi"]
    assert maps.releases(con) == [2025, 2019]


def test_choropleth_has_only_the_authoritys_lsoas_with_figures(con):
    fc = json.loads(maps.choropleth_geojson(con, TRAFFORD, 2025, "imd"))
    codes = {f["properties"]["code"] for f in fc["features"]}
    expected = set(con.execute("SELECT lsoa21_code FROM lsoa21_lookup WHERE lad_code = ?",
                               [TRAFFORD]).df()["lsoa21_code"])
    assert codes == expected and len(codes) == 139
    first = fc["features"][0]["properties"]
    assert set(first) == {"code", "name", "decile", "rank", "score", "note", "fill"}
    assert first["fill"] == colours.DECILE_COLOURS[first["decile"] - 1]
    assert json.loads(maps.choropleth_geojson(con, "E08000001", 2025, "imd"))["features"] == []


def test_choropleth_is_rounded_to_five_places_and_smaller_than_full_geometry(con):
    text = maps.choropleth_geojson(con, TRAFFORD, 2025, "income")
    numbers = re.findall(r"-?\d+\.(\d+)", text.split('"geometry"', 1)[1])
    assert numbers and max(len(n) for n in numbers) <= 5
    full = maps.choropleth_geojson(con, TRAFFORD, 2025, "income", full_precision=True)
    assert len(text) < len(full)


def test_choropleth_by_score_and_2019(con):
    fc = json.loads(maps.choropleth_geojson(con, TRAFFORD, 2025, "crime", "score"))
    assert {f["properties"]["fill"] for f in fc["features"]} <= set(colours.SCORE_COLOURS)
    old = json.loads(maps.choropleth_geojson(con, TRAFFORD, 2019, "imd"))
    assert len(old["features"]) == 138


def test_area_detail(con):
    place = areas.find(con, "E01006091")
    assert place.kind == "lsoa" and place.lad_name == "Trafford"
    domains = profile.domain_profile(con, place)
    assert list(domains["domain"])[:2] == ["imd", "income"]
    assert domains["decile"].between(1, 10).all()
    pop = profile.population(con, place)
    assert pop["people"].iloc[0] == pop["people"].iloc[1:].sum() > 0
    near = profile.neighbours(con, place.code)
    assert 2 <= len(near) <= 15 and place.code not in set(near["code"])
    ward = areas.find(con, areas.places(con, "ward", TRAFFORD)["code"].iloc[0])
    assert ward.kind == "ward"
    assert profile.domain_profile(con, ward)["lsoas"].iloc[0] >= 3
    lad = areas.find(con, TRAFFORD)
    assert profile.population(con, lad)["people"].iloc[0] > 200_000


def test_services_and_provenance(trafford_store, tmp_path):
    real = maps.services(StoreReader(trafford_store.store_path).cursor(), lad_code=TRAFFORD)
    # The demo store's real services: only those placed in Trafford's LSOAs are on its map.
    assert len(real) > 300 and real["lsoa21_code"].str.startswith("E01").all()
    assert set(real["category"]) <= {c.id for c in taxonomy.CATEGORIES}
    con = StoreReader(store_with_services(trafford_store.store_path, tmp_path)).cursor()
    svc = maps.services(con, lad_code=TRAFFORD)
    assert len(svc) == len(SERVICES)
    assert set(svc["colour"]) == {taxonomy.colour(s[1]) for s in SERVICES}
    assert len(maps.services(con, lsoa_codes=["E01006108"])) == 2
    prov = provenance.frame(con)
    assert {"iod2025", "boundaries_lsoa21"} <= set(prov["dataset_id"])
    lines = maps.attribution(con, 2025)
    assert any("Open Government Licence" in line for line in lines)
    assert any("IoD2025" in line and "loaded" in line for line in lines)


def test_idaci_is_offered_when_the_store_has_it(trafford_store, tmp_path):
    from needsmap.store import StoreBuild

    path = store_with_services(trafford_store.store_path, tmp_path)
    with StoreBuild(path) as build:
        build.execute("INSERT INTO iod_domain SELECT release, lsoa_code, 'idaci', score, rank, "
                      "decile FROM iod_domain WHERE domain = 'income' AND release = 2025")
    con = StoreReader(path).cursor()
    have, lacking = maps.measures(con, 2025)
    assert "idaci" in have and lacking == ["idaopi"]
    assert "idaci" not in maps.measures(con, 2019)[0]


def test_service_layer_is_one_point_layer_with_escaped_text(trafford_store):
    """Hundreds of services are one GeoJSON layer drawn with one circle-marker template (not a
    marker each: that made an ICB's map take seconds), and a name cannot become markup."""
    import folium

    from dashboard import mapview

    svc = maps.services(StoreReader(trafford_store.store_path).cursor(), lad_code=TRAFFORD)
    svc.loc[0, "name"] = "<img src=x onerror=alert(1)> `${1}` & Co"
    m = folium.Map(prefer_canvas=True)
    group = mapview.services(svc, "Services").add_to(m)
    html = m.get_root().render()
    layers = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    assert len(layers) == 1 and len(layers[0].data["features"]) == len(svc) > 300
    assert len(re.findall(r"\bL\.circleMarker\(|\bL\.CircleMarker\(", html)) == 1
    first = layers[0].data["features"][0]["properties"]
    assert first["name"].startswith("&lt;img") and "`" not in first["name"] and "${" not in first["name"]
    assert "<img src=x" not in html
    assert {f["properties"]["colour"] for f in layers[0].data["features"]} == set(svc["colour"])
    assert all(colour in html for colour in set(svc["colour"]))
