"""needsmap: official evidence and residents' own voice on one map.

One package whose sub-packages are the stages data flows through, each importing only those
before it: ``terms`` (the shared vocabulary), ``sources`` (registry and downloads), ``ingest``
(one pipeline per dataset), ``store`` (the reference store, places, areas and the user store),
``analysis`` and ``voice`` (evidence and residents' words), ``publish`` (reports and exports),
then ``cli``. The dashboard (``dashboard/``) calls into it; it never imports Streamlit.
"""

__version__ = "0.1.0"
