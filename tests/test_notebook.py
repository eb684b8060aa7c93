"""notebooks/area_analysis.ipynb runs top to bottom against a Trafford store and shows the same
gap ranking and report table as the functions it calls, so it cannot rot unnoticed."""

from __future__ import annotations

import io
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from needsmap.analysis import gaps
from needsmap.publish import reports
from needsmap.store import StoreReader, areas
from needsmap.voice import needs
from conftest import user_store_env

from reports_support import seed

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "area_analysis.ipynb"


def _tagged_csv(nb: nbformat.NotebookNode, tag: str) -> pd.DataFrame:
    cell = next(c for c in nb.cells if tag in c.get("metadata", {}).get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return pd.read_csv(io.StringIO(text))


def test_notebook_reproduces_a_gap_ranking_and_a_report_table(trafford_store, user_settings, user_store,
                                                              monkeypatch, tmp_path) -> None:
    seeded = seed(trafford_store.store_path, user_store)
    con = StoreReader(trafford_store.store_path).cursor()
    area = areas.resolve_area(con, "Trafford", ward=seeded.ward)
    ranking = gaps.gap_table(con, lad_code=area.lad_code, category="food",
                             needs=needs.approved_counts(user_store, area.lad_code),
                             suppress_below=user_settings.suppress_below)
    profile = reports.build(con, user_store, area, user_settings, with_map=False).profile
    user_store.close()  # the notebook's kernel opens it
    monkeypatch.setenv("NEEDSMAP_STORE", str(trafford_store.store_path))
    for name, value in user_store_env(user_settings).items():  # the same store, either backend
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEEDSMAP_NOTEBOOK_WARD", seeded.ward_name)
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parent.parent))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors, errors

    shown = _tagged_csv(nb, "gap-ranking")
    expected = ranking[["gap_rank", "code", "gap_score"]].head(10).round(6).reset_index(drop=True)
    assert list(shown["code"]) == list(expected["code"])
    assert list(shown["gap_rank"]) == list(expected["gap_rank"]) == list(range(1, 11))
    assert shown["gap_score"].tolist() == pytest.approx(expected["gap_score"].tolist())
    table = _tagged_csv(nb, "report-table")
    assert list(table["domain"]) == list(profile["domain"])
    assert table["area_10pc"].tolist() == pytest.approx(profile["area_10pc"].round(6).tolist())
    assert table["area_score"].tolist() == pytest.approx(profile["area_score"].round(6).tolist())
    # the words carry resident counts as published: the 12 food reports beside 3 hidden youth
    # reports in one small area are hidden too, so the notebook never prints them
    outputs = str([c.outputs for c in nb.cells if c.cell_type == "code"])
    assert "resident report" in outputs and "12 resident reports" not in outputs
