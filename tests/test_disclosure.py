"""Disclosure control: hand-made tables with known answers, and an attacker that cannot win.

The attacker is written here independently of needsmap.disclosure: exact Gaussian elimination
over fractions on the published sums, which finds every hidden value that any chain of
additions and subtractions of published figures gives away.
"""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from needsmap.voice import disclosure
from needsmap.voice.disclosure import Sum


def table_sums(n_rows: int, n_cols: int) -> tuple[list[Sum], int]:
    """Sums of an n x m table laid out row-major, then row totals, column totals, grand total."""
    sums, rt, ct = [], n_rows * n_cols, n_rows * n_cols + n_rows
    grand = ct + n_cols
    for r in range(n_rows):
        sums.append(Sum(rt + r, tuple(r * n_cols + c for c in range(n_cols))))
    for c in range(n_cols):
        sums.append(Sum(ct + c, tuple(r * n_cols + c for r in range(n_rows))))
    sums.append(Sum(grand, tuple(range(rt, rt + n_rows))))
    sums.append(Sum(grand, tuple(range(ct, ct + n_cols))))
    return sums, grand + 1


def with_margins(grid: list[list[int]]) -> list[int]:
    a = np.array(grid)
    return [*a.ravel(), *a.sum(axis=1), *a.sum(axis=0), int(a.sum())]


def recoverable(values: list[int], hidden: np.ndarray, sums: list[Sum],
                small_only: bool = True) -> dict[int, Fraction]:
    """Hidden small counts (1 to 9; every hidden cell with ``small_only=False``) whose exact
    value follows from the shown cells and the sums."""
    unknown = [i for i in range(len(values)) if hidden[i]]
    col = {cell: j for j, cell in enumerate(unknown)}
    rows = []
    for s in sums:
        coeffs = [Fraction(0)] * len(unknown)
        rhs = Fraction(0)
        for cell, sign in [(s.total, -1), *[(p, 1) for p in s.parts]]:
            if cell in col:
                coeffs[col[cell]] += sign
            else:
                rhs -= sign * values[cell]
        if any(coeffs):
            rows.append(coeffs + [rhs])
    # reduced row echelon form
    pivot_row = 0
    pivots = []
    for j in range(len(unknown)):
        found = next((r for r in range(pivot_row, len(rows)) if rows[r][j] != 0), None)
        if found is None:
            continue
        rows[pivot_row], rows[found] = rows[found], rows[pivot_row]
        lead = rows[pivot_row][j]
        rows[pivot_row] = [x / lead for x in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][j] != 0:
                f = rows[r][j]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[pivot_row])]
        pivots.append((pivot_row, j))
        pivot_row += 1
    found = {}
    for r, j in pivots:
        if sum(1 for x in rows[r][:-1] if x != 0) == 1:
            if not small_only or 0 < values[unknown[j]] < 10:
                found[unknown[j]] = rows[r][-1]
    return found


def test_rule_in_words_names_the_threshold() -> None:
    text = disclosure.rule_text(10)
    assert "from 1 to 9" in text and "secondary suppression" in text


def test_a_small_count_in_a_3x3_table_takes_a_cycle_of_complements() -> None:
    grid = [[20, 3, 15], [12, 30, 18], [25, 14, 40]]
    sums, _ = table_sums(3, 3)
    values = with_margins(grid)
    # Without secondary suppression the 3 is the row total less the other two cells.
    primary_only = disclosure.primary(values, 10)
    assert recoverable(values, primary_only, sums) == {1: 3}
    hidden = disclosure.protect(values, sums, 10)
    cells = {(i // 3, i % 3) for i in np.flatnonzero(hidden[:9])}
    # The smallest complements: 15 in its row, 14 and 18 in the columns, then 12 and 25.
    assert cells == {(0, 1), (0, 2), (2, 1), (1, 2), (1, 0), (2, 0)}
    assert not hidden[9:].any()  # every total stays published
    assert recoverable(values, hidden, sums) == {}


def test_a_hidden_cell_bridging_two_blocks_is_caught_by_the_linear_check() -> None:
    # Two 2x2 blocks of small counts joined by one small cell (row 0, column 2): every row and
    # column has two or more hidden cells, yet rows 0+1 less columns 0+1 give the bridge away.
    grid = [[1, 2, 3, 40], [4, 5, 30, 31], [32, 33, 6, 7], [34, 35, 8, 9]]
    sums, _ = table_sums(4, 4)
    values = with_margins(grid)
    first = disclosure.primary(values, 10)
    assert all(sum(first[m] for m in [s.total, *s.parts]) != 1 for s in sums)
    assert recoverable(values, first, sums) == {2: 3}
    assert np.flatnonzero(disclosure.determined(values, first, sums)).tolist() == [2]
    hidden = disclosure.protect(values, sums, 10)
    assert recoverable(values, hidden, sums) == {}
    assert first[hidden == False].sum() == 0  # noqa: E712  (every primary cell stays hidden)
    assert hidden.sum() == first.sum() + 1  # one complement is enough here


def test_zero_counts_are_shown_and_used_as_complements_only_when_needed() -> None:
    grid = [[0, 4, 25], [0, 11, 30]]
    sums, _ = table_sums(2, 3)
    values = with_margins(grid)
    hidden = disclosure.protect(values, sums, 10)
    assert not hidden[0] and not hidden[3]  # the zeros
    assert recoverable(values, hidden, sums) == {}
    # A small count whose other parts are zeros: its total is small too, so both are hidden
    # and, as they are equal, neither can be told.
    hidden1 = disclosure.protect([5, 0, 0, 5], [Sum(3, (0, 1, 2))], 10)
    assert hidden1.tolist() == [True, False, False, True]
    assert recoverable([5, 0, 0, 5], hidden1, [Sum(3, (0, 1, 2))]) == {}


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_never_give_a_hidden_count_away(seed: int) -> None:
    rng = random.Random(seed)
    n_rows, n_cols = rng.randint(2, 7), rng.randint(2, 6)
    grid = [[rng.choice([0, 0, 1, 2, 3, 5, 8, 9, 10, 12, 20, 40]) for _ in range(n_cols)]
            for _ in range(n_rows)]
    sums, _ = table_sums(n_rows, n_cols)
    values = with_margins(grid)
    hidden = disclosure.protect(values, sums, 10)
    small = [i for i, v in enumerate(values) if 0 < v < 10]
    assert all(hidden[i] for i in small)
    assert recoverable(values, hidden, sums) == {}


def test_protect_table_with_ward_subtotals() -> None:
    counts = pd.DataFrame(
        {"food": [12, 3, 15, 20, 0], "housing": [14, 16, 2, 11, 13], "youth": [0, 0, 0, 0, 25]},
        index=["L1", "L2", "L3", "L4", "L5"],
    )
    wards = pd.Series({"L1": "W1", "L2": "W1", "L3": "W2", "L4": "W2", "L5": "W2"})
    t = disclosure.protect_table(counts, 10, groups=wards)
    shown = t.shown()
    assert pd.isna(shown.loc["L2", "food"]) and pd.isna(shown.loc["L3", "housing"])
    assert shown.loc["L5", "youth"] == 25 and shown.loc["L1", "youth"] == 0
    # Rebuild the whole published system and let the attacker try.
    values, sums, hidden = [], [], []

    def add(v: int, h: bool) -> int:
        values.append(int(v))
        hidden.append(bool(h))
        return len(values) - 1

    cell = {(a, c): add(counts.loc[a, c], t.hidden.loc[a, c]) for a in counts.index for c in counts}
    row = {a: add(t.row_totals[a], t.row_hidden[a]) for a in counts.index}
    col = {c: add(t.column_totals[c], t.column_hidden[c]) for c in counts}
    grand = add(t.total, t.total_hidden)
    for a in counts.index:
        sums.append(Sum(row[a], tuple(cell[a, c] for c in counts)))
    for c in counts:
        sums.append(Sum(col[c], tuple(cell[a, c] for a in counts.index)))
    sums += [Sum(grand, tuple(row.values())), Sum(grand, tuple(col.values()))]
    for w, members in wards.groupby(wards).groups.items():
        ids = {c: add(t.group_counts.loc[w, c], t.group_hidden.loc[w, c]) for c in counts}
        total = add(t.group_counts.loc[w, "all_categories"], t.group_hidden.loc[w, "all_categories"])
        for c in counts:
            sums.append(Sum(ids[c], tuple(cell[a, c] for a in members)))
        sums.append(Sum(total, tuple(ids.values())))
        sums.append(Sum(total, tuple(row[a] for a in members)))
    assert recoverable(values, np.array(hidden), sums) == {}
    # The ward's food total (12 + 3) is published, so the 12 beside the 3 is hidden with it.
    assert t.shown_groups().loc["W1", "food"] == 15 and pd.isna(shown.loc["L1", "food"])
    assert t.shown_column_totals()["all_categories"] == 131


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        disclosure.protect([-1, 5, 4], [Sum(1, (0, 2))], 10)
    with pytest.raises(ValueError, match="not the sum"):
        disclosure.protect([1, 5, 3], [Sum(1, (0, 2))], 10)


def test_show_marks_hidden_cells() -> None:
    assert disclosure.show(pd.NA) == "c" and disclosure.show(1234) == "1,234"


def test_a_sparse_table_keeps_its_zeros() -> None:
    # Most LSOAs have no reports in most categories (as in a real authority): complements must
    # not spread through the zeros and blank the table.
    rng = random.Random(7)
    counts = pd.DataFrame(0, index=[f"L{i:02d}" for i in range(40)], columns=list("abcdefgh"))
    for _ in range(12):
        counts.iloc[rng.randrange(40), rng.randrange(8)] += rng.choice([1, 2, 3, 12])
    wards = pd.Series({a: f"W{i % 6}" for i, a in enumerate(counts.index)})
    t = disclosure.protect_table(counts, 10, groups=wards)
    small = int(((counts > 0) & (counts < 10)).to_numpy().sum())
    hidden_zeros = int((t.hidden & (counts == 0)).to_numpy().sum())
    assert small > 0 and hidden_zeros <= 2 * small
    assert int((counts == 0).to_numpy().sum()) - hidden_zeros > 280
