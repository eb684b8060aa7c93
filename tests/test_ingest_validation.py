"""Bad files are refused with a message naming file, row and column, and the store is untouched.

Each test copies the real mirror file into a throw-away mirror with the same layout, breaks
one thing in it, and loads it over a store built earlier from the good file. The load must fail
and leave that store byte-for-byte as it was, still readable, with no build file left behind.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from needsmap import ingest
from needsmap.config import Settings
from needsmap.errors import ConfigError, ValidationError
from needsmap.sources import registry
from needsmap.store import StoreReader, areas
from needsmap.testing import shared_data

from conftest import make_settings

IOD = registry.get("iod2025")
IOD_FILE = Path(IOD.mirror_path).name
LINE = 102  # the data row the tests break (the header is line 1)
IMD_RANK = "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"
IMD_DECILE = "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)"
IMD_SCORE = "Index of Multiple Deprivation (IMD) Score"
INCOME_SCORE = "Income Score (rate)"
Rows = list[list[str]]


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Path:
    """A store holding all of England's IoD2025, built once from the good mirror file."""
    s = make_settings(tmp_path_factory.mktemp("good"), mirror)
    ingest.run(["iod2025"], s)
    return s.store_path


@dataclass
class Case:
    settings: Settings
    mirror: Path
    sha256: str

    def write(self, dataset: registry.Dataset, body: bytes) -> None:
        (self.mirror / dataset.mirror_path).write_bytes(body)

    def edit(self, dataset: registry.Dataset, change: Callable[[Rows], None]) -> None:
        """Rewrite the mirror's CSV after ``change`` edits its rows (row 0 is the header)."""
        path = self.mirror / dataset.mirror_path
        rows = [row[:] for row in _parsed(dataset.mirror_path)]
        change(rows)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")

    def assert_untouched(self, release: int = 2025, lsoas: int = 33_755) -> None:
        store = self.settings.store_path
        assert _sha256(store) == self.sha256
        assert not list(store.parent.glob("*.build-*")), "a build file was left behind"
        cur = StoreReader(store).cursor()
        assert cur.execute(
            "SELECT count(*) FROM iod_area WHERE release = ?", [release]
        ).fetchone()[0] == lsoas


@functools.lru_cache(maxsize=4)
def _parsed(mirror_path: str) -> tuple[list[str], ...]:
    """The rows of the real mirror's CSV, parsed once (tests copy the rows before editing)."""
    with open(shared_data() / mirror_path, encoding="utf-8", newline="") as handle:
        return tuple(csv.reader(handle))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_mirror(src: Path, dest: Path, datasets: list[str]) -> None:
    for dataset_id in datasets:
        rel = registry.get(dataset_id).mirror_path
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)


@pytest.fixture
def case(tmp_path: Path, mirror: Path, good_store: Path) -> Case:
    """A copy of the good store, and a private mirror holding copies of the real files."""
    bad = tmp_path / "mirror"
    _copy_mirror(mirror, bad, ["iod2025"])
    data = tmp_path / "data"
    data.mkdir()
    settings = make_settings(data, bad)
    shutil.copyfile(good_store, settings.store_path)
    return Case(settings, bad, _sha256(settings.store_path))


def _fails(case: Case, *fragments: str, targets: tuple[str, ...] = ("iod2025",),
           error: type[Exception] = ValidationError, **kwargs: object) -> str:
    with pytest.raises(error) as err:
        ingest.run(list(targets), case.settings, **kwargs)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    case.assert_untouched()
    return message


def _set(rows: Rows, line: int, column: str, value: str) -> None:
    rows[line - 1][rows[0].index(column)] = value


def test_good_file_loads_over_the_store(case: Case) -> None:
    """The control: the copied file itself is fine (so each failure below is the one edit)."""
    case.edit(IOD, lambda rows: None)
    report = ingest.run(["iod2025"], case.settings)
    assert report.results[0].rows == 33_755


def test_missing_required_column(case: Case) -> None:
    def drop_imd_rank(rows: Rows) -> None:
        at = rows[0].index(IMD_RANK)
        for row in rows:
            del row[at]

    case.edit(IOD, drop_imd_rank)
    message = _fails(case, IOD_FILE, "missing required column",
                     "Index of Multiple Deprivation (IMD) Rank", "Columns in the file:",
                     repr(IMD_DECILE), repr("Income Rank (where 1 is most deprived)"))
    assert repr(IMD_RANK) not in message.split("Columns in the file:")[1]


def test_bad_lsoa_code(case: Case) -> None:
    case.edit(IOD, lambda rows: _set(rows, LINE, "LSOA code (2021)", "E0100010X"))
    _fails(case, IOD_FILE, f"row {LINE}", "'LSOA code (2021)'", "'E0100010X'", "E01[0-9]{6}")


def test_decile_11(case: Case) -> None:
    case.edit(IOD, lambda rows: _set(rows, LINE, IMD_DECILE, "11"))
    _fails(case, IOD_FILE, f"row {LINE}", repr(IMD_DECILE), "decile 11 is outside 1..10")


def test_rank_beyond_the_number_of_lsoas(case: Case) -> None:
    case.edit(IOD, lambda rows: _set(rows, LINE, IMD_RANK, "33756"))
    _fails(case, IOD_FILE, f"row {LINE}", repr(IMD_RANK), "33756 is outside 1..33755")


def test_duplicated_rank_with_different_scores(case: Case) -> None:
    def copy_rank(rows: Rows) -> None:
        _set(rows, LINE, IMD_RANK, rows[LINE][rows[0].index(IMD_RANK)])  # line LINE+1's rank
        assert rows[LINE - 1][rows[0].index(IMD_SCORE)] != rows[LINE][rows[0].index(IMD_SCORE)]

    case.edit(IOD, copy_rank)
    _fails(case, IOD_FILE, f"rows {LINE}, {LINE + 1}", IMD_RANK, "appears more than once")


def test_duplicated_rank_with_equal_scores_is_a_published_tie(case: Case) -> None:
    def tie(rows: Rows) -> None:
        for column in (IMD_RANK, IMD_SCORE):
            _set(rows, LINE, column, rows[LINE][rows[0].index(column)])

    case.edit(IOD, tie)
    report = ingest.run(["iod2025"], case.settings)
    assert report.results[0].rows == 33_755
    assert any("ties as published" in w for w in report.warnings)


def test_not_a_number(case: Case) -> None:
    case.edit(IOD, lambda rows: _set(rows, LINE, INCOME_SCORE, "n/a"))
    _fails(case, IOD_FILE, f"row {LINE}", repr(INCOME_SCORE), "'n/a' is not a number")


def test_a_missing_row_breaks_the_england_count(case: Case) -> None:
    case.edit(IOD, lambda rows: rows.pop(LINE - 1))
    _fails(case, IOD_FILE, "has 33754 LSOAs", "exactly 33755")


def test_not_utf8(case: Case) -> None:
    case.edit(IOD, lambda rows: _set(rows, LINE, "LSOA name (2021)", "PLACEHOLDER"))
    path = case.mirror / IOD.mirror_path
    path.write_bytes(path.read_bytes().replace(b"PLACEHOLDER", "Ynys Môn 001A".encode("latin-1")))
    _fails(case, IOD_FILE, "not UTF-8", f"row {LINE}")


def test_html_page_saved_as_the_csv(case: Case) -> None:
    case.write(IOD, b"<!DOCTYPE html>\n<html><head><title>Page not found - GOV.UK</title></head>"
                    b"<body><h1>Page not found</h1></body></html>\n")
    _fails(case, IOD_FILE, "web page")


def test_empty_file(case: Case) -> None:
    case.write(IOD, b"")
    _fails(case, IOD_FILE, "empty")


def test_missing_mirror_file_names_the_path(case: Case) -> None:
    (case.mirror / IOD.mirror_path).unlink()
    _fails(case, "iod2025", IOD.mirror_path, error=Exception)


def test_interrupted_load_leaves_the_store_untouched(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ingest.PIPELINES["iod2025"]

    def load_then_interrupt(ctx: object) -> int:
        real(ctx)  # the new rows are in the build by now ...
        raise KeyboardInterrupt  # ... and then the user presses Ctrl-C

    case.edit(IOD, lambda rows: _set(rows, LINE, IMD_SCORE, "99.999"))
    monkeypatch.setitem(ingest.PIPELINES, "iod2025", load_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest.run(["iod2025"], case.settings)
    case.assert_untouched()
    monkeypatch.setitem(ingest.PIPELINES, "iod2025", real)
    ingest.run(["iod2025"], case.settings)  # the build lock was released
    cur = StoreReader(case.settings.store_path).cursor()
    assert cur.execute("SELECT count(*) FROM iod_domain WHERE score = 99.999").fetchone()[0] == 1


# --area ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["E08000009", "e08000009", "Trafford", "tRAFFORD", "  Trafford "])
def test_area_by_code_or_name(trafford_store: Settings, text: str) -> None:
    area = areas.resolve(StoreReader(trafford_store.store_path).cursor(), text)
    assert (area.lad_code, area.lad_name, len(area.lsoas)) == ("E08000009", "Trafford", 139)
    assert area.label == "Trafford (E08000009)"


def test_area_by_code_in_a_run(case: Case, mirror: Path) -> None:
    _copy_mirror(mirror, case.mirror, ["lookup_lsoa21", "lookup_lsoa11_lsoa21"])
    report = ingest.run(["iod2025"], case.settings, area="E08000009")
    assert report.area == "Trafford (E08000009)"
    assert [(r.dataset_id, r.rows) for r in report.results][-1] == ("iod2025", 139)


def test_unknown_area_suggests_names_and_changes_nothing(case: Case, mirror: Path) -> None:
    _copy_mirror(mirror, case.mirror, ["lookup_lsoa21", "lookup_lsoa11_lsoa21"])
    message = _fails(case, "'Traford'", "Did you mean", "Trafford", error=ConfigError,
                     area="Traford")
    assert "no local authority" in message


# cross-table consistency --------------------------------------------------------------------

def test_boundaries_and_iod_covering_different_lsoas_fails(
    trafford_store: Settings, tmp_path: Path, mirror: Path
) -> None:
    bad = tmp_path / "mirror"
    _copy_mirror(mirror, bad, ["iod2025"])
    settings = make_settings(tmp_path, bad)
    shutil.copyfile(trafford_store.store_path, settings.store_path)
    case = Case(settings, bad, _sha256(settings.store_path))
    dropped = "E01006074"  # Trafford 025A: it keeps its boundary but loses its IoD row
    case.edit(IOD, lambda rows: rows.remove(next(r for r in rows if r[0] == dropped)))
    with pytest.raises(ValidationError) as err:
        ingest.run(["iod2025"], settings, area="Trafford")
    message = str(err.value)
    assert "do not match" in message and dropped in message
    assert "LSOA 2021 boundaries have no row in IoD2025" in message
    case.assert_untouched(lsoas=139)
