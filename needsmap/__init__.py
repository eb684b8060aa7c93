"""needsmap: official evidence and residents' own voice on one map.

The core package: store, source registry, downloads and domain logic. Ingest pipelines
(``ingest/``) and the dashboard (``dashboard/``) both call into it; it never imports Streamlit.
"""

__version__ = "0.1.0"
