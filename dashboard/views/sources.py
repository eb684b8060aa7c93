"""Sources: where every figure comes from, its licence, vintage and attribution."""

from __future__ import annotations

import streamlit as st

from dashboard.common import read
from needsmap.sources.registry import OGL, OGL_URL
from needsmap.store import provenance

st.title("Sources")
st.markdown(f"Every dataset in this store, who publishes it, how old it is and the words its "
            f"licence asks us to show. Most are under the [{OGL}]({OGL_URL}).")
frame = read(provenance.frame)
# The overview keeps to what fits a laptop screen; each dataset's full record (attribution,
# address, checksum) is in its expander below and in the full table for analysts.
SUMMARY = ["title", "publisher", "vintage", "licence", "retrieved", "rows_loaded"]
LABELS = {"title": "Dataset", "publisher": "Published by", "vintage": "Edition", "licence": "Licence",
          "retrieved": "Fetched", "rows_loaded": "Rows", "url": st.column_config.LinkColumn("Address"),
          "sha256": "File checksum (SHA-256)"}
st.dataframe(frame, hide_index=True, width="stretch", column_order=SUMMARY, column_config=LABELS)
with st.expander("Full table (every column, for analysts)"):
    st.dataframe(frame, hide_index=True, width="stretch", column_config=LABELS)
st.subheader("Each dataset in plain words")
for row in frame.itertuples(index=False):
    with st.expander(row.title):
        st.markdown(
            f"- **Published by** {row.publisher}\n- **Edition** {row.vintage}\n"
            f"- **Areas** {row.geography}; loaded for {row.area}\n"
            f"- **Licence** {row.licence}\n- **Fetched** {row.retrieved}; **loaded** "
            f"{row.loaded} ({row.rows_loaded:,} rows)\n- **Attribution** {row.attribution}\n"
            f"- **Where from** {row.url}")
st.subheader("Attribution")
for text in dict.fromkeys(frame["attribution"].dropna()):
    st.markdown(f"- {text}")
