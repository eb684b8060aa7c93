"""The `needsmap` command as a user runs it: settings from the environment, a summary at the end."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.sources import registry
from needsmap.sources._http import sha256_file
from needsmap.store import StoreReader


def _env(data: Path, mirror: Path) -> dict[str, str | None]:
    """Settings as a user sets them; None unsets a variable the calling shell may have set."""
    return {"NEEDSMAP_DATA_DIR": str(data), "NEEDSMAP_MIRROR": str(mirror),
            "NEEDSMAP_STORE": None, "NEEDSMAP_USER_STORE": None, "NEEDSMAP_CACHE": None}


def _run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def trafford(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> tuple[dict[str, str | None], Result]:
    data = tmp_path_factory.mktemp("cli")
    env = _env(data, mirror)
    return env, _run(env, "ingest", "all", "--area", "Trafford")


def test_ingest_all_for_trafford_prints_a_summary(trafford: tuple[dict[str, str | None], Result]) -> None:
    env, result = trafford
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Loaded into {Path(str(env['NEEDSMAP_DATA_DIR'])) / 'needsmap.duckdb'} for Trafford (E08000009)" in out
    rows = {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^  (\S+)\s+([\d,]+) rows\s+[\d.]+ s$", out, re.M)}
    assert rows["iod2025"] == 139 and rows["boundaries_lsoa21"] == 139
    assert rows["total"] == sum(v for k, v in rows.items() if k != "total")
    assert re.search(r"^  total\s+[\d,]+ rows\s+\d+\.\d s$", out, re.M)


def test_sources_prints_dataset_checksum_and_licence(
    trafford: tuple[dict[str, str | None], Result], mirror: Path
) -> None:
    env, _ = trafford
    result = _run(env, "sources")
    assert result.exit_code == 0, result.output
    iod = registry.get("iod2025")
    block = result.stdout.split(f"{iod.id}: {iod.title}")[1].split("\n\n")[0]
    assert f"sha256     {sha256_file(mirror / iod.mirror_path)}" in block
    assert "licence    Open Government Licence v3.0" in block
    assert "139 (Trafford (E08000009))" in block
    store = StoreReader(Path(str(env["NEEDSMAP_DATA_DIR"])) / "needsmap.duckdb").cursor()
    loaded = store.execute("SELECT count(*) FROM provenance").fetchone()[0]
    assert loaded >= 20 and result.stdout.count("licence    ") == loaded


def test_failing_ingest_exits_non_zero_with_a_message(
    trafford: tuple[dict[str, str | None], Result], tmp_path: Path, mirror: Path
) -> None:
    env, _ = trafford
    broken = tmp_path / "mirror"
    rel = registry.get("iod2025").mirror_path
    (broken / rel).parent.mkdir(parents=True)
    (broken / rel).write_text("<!DOCTYPE html><html><body>Not found</body></html>\n")
    data = tmp_path / "data"
    shutil.copytree(Path(str(env["NEEDSMAP_DATA_DIR"])), data)
    result = _run(_env(data, broken), "ingest", "iod2025")
    assert result.exit_code == 1
    assert "error:" in result.stderr and "web page" in result.stderr and "iod2025" in result.stderr
    assert "Loaded into" not in result.stdout


def test_unknown_target_lists_the_choices(tmp_path: Path, mirror: Path) -> None:
    result = _run(_env(tmp_path, mirror), "ingest", "imd")
    assert result.exit_code == 1
    assert "nothing to ingest called 'imd'" in result.stderr and "iod2025" in result.stderr


def test_unknown_area_exits_non_zero_with_suggestions(tmp_path: Path, mirror: Path) -> None:
    result = _run(_env(tmp_path, mirror), "ingest", "lookups", "--area", "Trafforrd")
    assert result.exit_code == 1
    assert "Did you mean" in result.stderr and "Trafford" in result.stderr
    assert not (tmp_path / "needsmap.duckdb").exists()


def test_sources_without_a_store_says_how_to_build_one(tmp_path: Path, mirror: Path) -> None:
    result = _run(_env(tmp_path, mirror), "sources")
    assert result.exit_code == 1 and "needsmap ingest all" in result.stderr


def test_datasets_lists_every_dataset(tmp_path: Path, mirror: Path) -> None:
    result = _run(_env(tmp_path, mirror), "datasets")
    assert result.exit_code == 0
    for d in registry.DATASETS:
        assert d.id in result.stdout and f"mirror: {d.mirror_path}" in result.stdout
