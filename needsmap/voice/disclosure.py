"""Disclosure control for resident counts in every report and export.

Primary suppression hides every count from 1 to ``threshold - 1``: a small count of reports in a
small area could point at a household. Hiding those cells is not enough when totals are
published too, because a hidden cell can be worked out by subtracting the shown cells from the
total. So secondary (complementary) suppression hides further cells until no small count follows
from the published figures:

1. every published sum (a row, a column, a ward's subtotal...) with exactly one hidden member
   gets a second, the smallest non-zero one it has (the textbook rule); a zero is taken only
   to protect a small count itself, never to cover another complement;
2. then a linear-algebra check finds small counts that a longer chain of additions and
   subtractions could still pin down (for example one bridging two otherwise protected blocks)
   and hides the nearest other cell; both steps repeat until nothing changes.

The small counts (1 to threshold - 1, totals included) are the sensitive cells. A complement is
hidden to protect them; its own value is not sensitive (it is zero or at least the threshold),
so the check guarantees that no small count can be worked out, and complements are chased only
through non-zero cells: chasing them through zeros would, in a sparse table of resident
reports, hide almost every zero in it and tell analysts nothing.

The model is general: ``cells`` are every published quantity (leaves and their sums) and
``sums`` say which cell is the sum of which others, so a table with margins, or an LSOA table
whose ward subtotals appear in a ward report, is protected as one system. Zero counts disclose
nothing about a person and are shown; a zero is hidden as a complement only when no non-zero
candidate is left. The check covers exact recovery from the published sums; it does not claim to
prevent narrowing a value to a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SUPPRESSED_MARK = "c"  # what a hidden cell shows in text (the ONS convention "[c]", confidential)


def rule_text(threshold: int) -> str:
    """The suppression rule in plain words, for every report and export's notes."""
    return (
        f"Resident counts from 1 to {threshold - 1} are not shown (primary suppression: counts "
        "this small could point to a household). Where a hidden count could be worked out by "
        "subtracting the other figures from a total, further figures are hidden too (secondary "
        f"suppression), so no count from 1 to {threshold - 1} can be recovered from the published "
        f"totals. Hidden figures are left empty in data files and shown as '{SUPPRESSED_MARK}' in "
        "reports; zero "
        "means no approved reports."
    )


@dataclass(frozen=True)
class Sum:
    """``total`` is published as the sum of ``parts`` (indices into the cell list)."""
    total: int
    parts: tuple[int, ...]


def primary(values: Sequence[int], threshold: int) -> np.ndarray:
    """Cells from 1 to threshold - 1."""
    v = np.asarray(values, dtype=np.int64)
    return (v > 0) & (v < threshold)


def _constraint_matrix(n: int, sums: Sequence[Sum]) -> np.ndarray:
    """One row per sum: +1 for each part, -1 for the total (so each row times x is 0)."""
    a = np.zeros((len(sums), n))
    for i, s in enumerate(sums):
        for p in s.parts:
            a[i, p] += 1.0
        a[i, s.total] -= 1.0
    return a


def determined(values: Sequence[int], hidden: np.ndarray, sums: Sequence[Sum]) -> np.ndarray:
    """Hidden cells whose value follows exactly from the shown cells and the sums (no SQL, no
    I/O: a pure check that tests and ``protect`` share).

    With A x = 0 split into hidden (H) and shown columns, A_H x_H = -A_S x_S is known; a hidden
    cell is determined exactly when its unit vector lies in the row space of A_H, i.e. when every
    solution of A_H y = 0 has y at that cell equal to 0.
    """
    n = len(values)
    idx = np.flatnonzero(hidden)
    out = np.zeros(n, dtype=bool)
    if idx.size == 0 or not sums:
        return out
    a = _constraint_matrix(n, sums)[:, idx]
    a = a[np.any(a != 0, axis=1)]
    if a.shape[0] == 0:
        return out
    # A cell is pinned when its unit vector lies in the row space of A_H, i.e. when its
    # diagonal entry of the projector onto that space, A^T (A A^T)^+ A, is 1. The small
    # symmetric A A^T (one row per sum) keeps this fast for authority-sized tables.
    gram = a @ a.T
    eigenvalues, vectors = np.linalg.eigh(gram)
    keep = eigenvalues > 1e-9 * max(1.0, float(eigenvalues[-1]))
    b = vectors[:, keep].T @ a
    projection = np.sum(b**2 / eigenvalues[keep][:, None], axis=0)
    out[idx[projection > 1 - 1e-7]] = True
    return out


def _members(s: Sum) -> list[int]:
    return [s.total, *s.parts]


def _pick_complement(candidates: list[int], values: np.ndarray, hidden: np.ndarray,
                     allow_zero: bool = True) -> int | None:
    """The smallest shown non-zero candidate (a zero only if nothing else is left and
    ``allow_zero``)."""
    open_ = [c for c in candidates if not hidden[c]]
    nonzero = [c for c in open_ if values[c] > 0]
    pool = nonzero or (open_ if allow_zero else [])
    if not pool:
        return None
    return min(pool, key=lambda c: (values[c], c))


def _nearest_complement(cell: int, by_cell: dict[int, list[Sum]], values: np.ndarray,
                        hidden: np.ndarray) -> int | None:
    """A non-zero complement as close to ``cell`` as possible: from the sums it is in, else from
    the sums those sums' members are in, and so on outwards; a zero only if no non-zero cell is
    left anywhere it connects to."""
    for allow_zero in (False, True):
        seen, layer = {cell}, [cell]
        while layer:
            members = sorted({m for c in layer for s in by_cell.get(c, []) for m in _members(s)} - seen)
            pick = _pick_complement(members, values, hidden, allow_zero=allow_zero)
            if pick is not None:
                return pick
            seen.update(members)
            layer = members
    return None


def protect(values: Sequence[int], sums: Sequence[Sum], threshold: int) -> np.ndarray:
    """Which cells to hide: primary suppression, then complements until no small count can be
    worked out from the shown cells and the sums."""
    v = np.asarray(values, dtype=np.int64)
    if np.any(v < 0):
        raise ValueError("counts cannot be negative")
    for s in sums:
        if v[s.total] != sum(int(v[p]) for p in s.parts):
            raise ValueError(f"cell {s.total} ({v[s.total]}) is not the sum of its parts")
    hidden = primary(v, threshold)
    if not hidden.any():
        return hidden
    by_cell: dict[int, list[Sum]] = {}
    for s in sums:
        for m in _members(s):
            by_cell.setdefault(m, []).append(s)
    sensitive = hidden.copy()
    while True:
        changed = False
        # 1. A sum with exactly one hidden member gives that member away.
        for s in sums:
            members = _members(s)
            hid = [m for m in members if hidden[m]]
            if len(hid) == 1:
                pick = _pick_complement(members, v, hidden, allow_zero=bool(sensitive[hid[0]]))
                if pick is not None:
                    hidden[pick] = True
                    changed = True
        if changed:
            continue
        # 2. Longer chains of subtraction: hide a cell near each small count still determined.
        for cell in np.flatnonzero(determined(v, hidden, sums) & sensitive):
            pick = _nearest_complement(int(cell), by_cell, v, hidden)
            if pick is not None:
                hidden[pick] = True
                changed = True
        if not changed:
            return hidden


# ---------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class ProtectedTable:
    """A count table with its margins, and which of its cells are hidden.

    ``counts`` has one row per area and one column per category; ``row_totals`` (per area),
    ``column_totals`` (per category, over all areas) and ``total`` are published with it.
    ``groups`` (optional) maps each area to a larger area whose subtotals are published too
    (wards in a ward report); ``group_counts`` holds those subtotals.
    """
    counts: pd.DataFrame
    hidden: pd.DataFrame
    row_totals: pd.Series
    row_hidden: pd.Series
    column_totals: pd.Series
    column_hidden: pd.Series
    total: int
    total_hidden: bool
    group_counts: pd.DataFrame | None = None
    group_hidden: pd.DataFrame | None = None
    threshold: int = 10

    def shown(self) -> pd.DataFrame:
        """Counts with hidden cells as missing values (nullable integers), totals as a column."""
        out = self.counts.astype("Int64").mask(self.hidden)
        out["all_categories"] = self.row_totals.astype("Int64").mask(self.row_hidden)
        return out

    def shown_column_totals(self) -> pd.Series:
        out = self.column_totals.astype("Int64").mask(self.column_hidden)
        out["all_categories"] = pd.NA if self.total_hidden else self.total
        return out.astype("Int64")

    def shown_groups(self) -> pd.DataFrame | None:
        if self.group_counts is None or self.group_hidden is None:
            return None
        return self.group_counts.astype("Int64").mask(self.group_hidden)


def protect_table(counts: pd.DataFrame, threshold: int,
                  groups: pd.Series | None = None) -> ProtectedTable:
    """Protect an area x category table with its row, column and grand totals (and, with
    ``groups``, the subtotals of each group of areas by category and overall)."""
    counts = counts.fillna(0).astype("int64")
    n_rows, n_cols = counts.shape
    values: list[int] = list(counts.to_numpy().ravel())

    def cell(r: int, c: int) -> int:
        return r * n_cols + c

    def add(value: int) -> int:
        values.append(int(value))
        return len(values) - 1

    sums: list[Sum] = []
    row_idx = [add(counts.iloc[r].sum()) for r in range(n_rows)]
    for r in range(n_rows):
        sums.append(Sum(row_idx[r], tuple(cell(r, c) for c in range(n_cols))))
    col_idx = [add(counts.iloc[:, c].sum()) for c in range(n_cols)]
    for c in range(n_cols):
        sums.append(Sum(col_idx[c], tuple(cell(r, c) for r in range(n_rows))))
    grand = add(int(counts.to_numpy().sum()))
    sums.append(Sum(grand, tuple(row_idx)))
    sums.append(Sum(grand, tuple(col_idx)))
    group_idx: dict[str, list[int]] = {}
    group_names: list[str] = []
    if groups is not None:
        groups = groups.reindex(counts.index)
        if groups.isna().any():
            raise ValueError("every area needs a group")
        group_names = sorted(set(groups))
        positions = {g: [i for i, x in enumerate(groups) if x == g] for g in group_names}
        for g in group_names:
            rows = positions[g]
            ids = []
            for c in range(n_cols):
                ids.append(add(int(counts.iloc[rows, c].sum())))
                sums.append(Sum(ids[-1], tuple(cell(r, c) for r in rows)))
            total_id = add(int(counts.iloc[rows].to_numpy().sum()))
            sums.append(Sum(total_id, tuple(ids)))
            sums.append(Sum(total_id, tuple(row_idx[r] for r in rows)))
            group_idx[g] = [*ids, total_id]
    hidden = protect(values, sums, threshold)
    cells = hidden[: n_rows * n_cols].reshape(n_rows, n_cols)
    group_counts = group_hidden = None
    if groups is not None:
        columns = [*counts.columns, "all_categories"]
        group_counts = pd.DataFrame([[values[i] for i in group_idx[g]] for g in group_names],
                                    index=group_names, columns=columns)
        group_hidden = pd.DataFrame([[bool(hidden[i]) for i in group_idx[g]] for g in group_names],
                                    index=group_names, columns=columns)
    return ProtectedTable(
        counts=counts,
        hidden=pd.DataFrame(cells, index=counts.index, columns=counts.columns),
        row_totals=pd.Series([values[i] for i in row_idx], index=counts.index, dtype="int64"),
        row_hidden=pd.Series([bool(hidden[i]) for i in row_idx], index=counts.index),
        column_totals=pd.Series([values[i] for i in col_idx], index=counts.columns, dtype="int64"),
        column_hidden=pd.Series([bool(hidden[i]) for i in col_idx], index=counts.columns),
        total=int(values[grand]), total_hidden=bool(hidden[grand]),
        group_counts=group_counts, group_hidden=group_hidden, threshold=threshold,
    )


def show(value: object) -> str:
    """A protected count for a report: the number, or the suppression mark."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return SUPPRESSED_MARK
    return f"{int(value):,}"
