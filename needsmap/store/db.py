"""DuckDB connections with the spatial extension loaded from its PyPI wheel, never the network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from needsmap.errors import StoreError

_WHEELS = {"spatial": "duckdb_extension_spatial", "postgres": "duckdb_extension_postgres"}


def extension_file(name: str) -> Path:
    """Path of the extension binary shipped in the ``duckdb-extension-<name>`` wheel."""
    spec = importlib.util.find_spec(_WHEELS[name])
    if spec is None or not spec.submodule_search_locations:
        raise StoreError(f"the Python package duckdb-extension-{name} is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    found = sorted(root.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not found:
        raise StoreError(
            f"duckdb-extension-{name} has no build for DuckDB {duckdb.__version__} under {root}"
        )
    return found[0]


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load an extension, installing it from the wheel's file the first time."""
    try:
        con.load_extension(name)
    except duckdb.Error:
        con.install_extension(str(extension_file(name)))
        con.load_extension(name)


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with spatial ready to use."""
    con = duckdb.connect(str(path), read_only=read_only)
    load_extension(con, "spatial")
    return con


def quote_ident(name: str) -> str:
    """Quote an identifier taken from a file header (never from a user) for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'
