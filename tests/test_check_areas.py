"""`make check-areas` for a sample, through the real command: the smallest authorities (City
of London, 6 LSOAs; Isles of Scilly, 1), a large rural one, the largest city and a name with a
comma, each in its own store built from the mirror with `ingest all --area X`."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import check_areas  # noqa: E402

pytestmark = pytest.mark.slow

SAMPLE = {"City of London": 6, "Isles of Scilly": 1, "Cornwall": 336, "Birmingham": 659,
          "Bristol, City of": 268}


def test_sample_of_authorities_runs_end_to_end(mirror: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # what an earlier AppTest leaves behind in the same worker: a Streamlit page as __main__
    # (a spawned child re-ran it and died, losing every area but the first two)
    page = tmp_path / "page.py"
    page.write_text("raise SystemExit(3)\n")
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    sys.modules["__main__"].__file__ = str(page)
    outcomes = check_areas.check(list(SAMPLE), str(mirror), jobs=2, keep=tmp_path, say=lambda m: None)
    assert check_areas.failure_table(outcomes) == "0 failures in 5 areas."
    assert {o.area: o.lsoas for o in outcomes} == SAMPLE
    for folder in tmp_path.glob("area-*"):
        pack = list((folder / "report").glob("*.zip"))
        assert len(pack) == 1 and pack[0].stat().st_size > 10_000
        readme = next((folder / "report").glob("*README.md")).read_text()
        assert "Trafford" not in readme  # no other place's lists among the sources


def test_authorities_are_the_296_of_england(mirror: Path) -> None:
    codes = check_areas.authorities(str(mirror))
    assert len(codes) == 296 and "E09000001" in codes and "E06000053" in codes


def test_a_failure_is_a_row_of_the_table(mirror: Path, tmp_path: Path) -> None:
    [outcome] = check_areas.check(["Atlantis"], str(mirror), jobs=1, keep=tmp_path, say=lambda m: None)
    assert outcome.failed == "ingest" and "Atlantis" in outcome.message
    assert "Atlantis  ingest" in check_areas.failure_table([outcome])
