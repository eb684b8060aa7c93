"""Moderation: approve, edit (remove personal details) or reject with a reason every new report
and community note; every action is logged with who, when and what changed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.auth import current_user, page_for
from dashboard.common import REFUSED, read, show_literal, show_problems, user_store
from needsmap.store import areas
from needsmap.terms import taxonomy
from needsmap.config import load_settings
from needsmap.voice import layers, needs, resident_rights, retention
from needsmap.voice.privacy import (
    escape_markdown,
    redact_contact_details,
    visible_cells,
    visible_text,
)

SHOWN = 30
FLASH = "moderation_flash"

user = page_for(current_user(), "moderate", "moderators")
store = user_store()
st.title("Moderation")
st.markdown("New reports and community notes appear on the map and in counts only after you "
            "approve them. Remove names, phone numbers, email and street addresses first "
            "(**Edit, then approve**); reject anything abusive or off-topic with a reason. "
            "Every action is logged.")
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)


def act(item: dict, action: str, *, reason: str | None = None, text: str | None = None) -> None:
    """Carry out one moderation step (or an edit followed by approval), then refresh."""
    kind, ref = str(item["item_type"]), int(item["id"])
    try:
        if action == "edit-approve":
            needs.moderate(store, user, kind, ref, "edit", new_text=text)
            needs.moderate(store, user, kind, ref, "approve")
        else:
            needs.moderate(store, user, kind, ref, action, reason=reason)
    except REFUSED as exc:
        show_problems(exc)
        return
    done = {"approve": "approved", "edit-approve": "edited and approved", "reject": "rejected"}
    st.session_state[FLASH] = f"{'Need' if kind == 'need' else 'Note'} {ref} {done[action]}."
    st.rerun()


def area_name(code: str) -> str:
    place = read(areas.find, code)
    return f"{place.name} ({code})" if place else code


waiting = needs.pending(store, user)
queue, log, requests = st.tabs([f"Waiting ({len(waiting)})", "Log of actions",
                                "A resident's request (copy or erase)"])
with queue:
    if not waiting:
        st.caption("Nothing is waiting. New reports and notes will appear here.")
    for item in waiting[:SHOWN]:
        key = f"{item['item_type']}-{item['id']}"
        text = str(item["text"])
        with st.container(border=True, key=f"item-{key}"):
            if item["item_type"] == "need":
                head = f"Need {item['id']}: {taxonomy.label(str(item['kind']))}"
            else:
                head = f"Community note {item['id']} from {item['kind'] or 'a community group'}"
            show_literal(head, bold=True)
            facts = [f"received {item['created_at']:%d %b %Y %H:%M}",
                     f"about {area_name(str(item['area_code']))}", f"via {item['channel']}"]
            if item.get("entered_by"):
                facts.append(f"entered by {item['entered_by']}")
            if item.get("source_note"):
                facts.append(f"gathered at {item['source_note']}")
            if item.get("people_affected"):
                facts.append(f"about {item['people_affected']:,} people")
            if item.get("age_groups"):
                facts.append("; ".join(item["age_groups"]))
            show_literal(" · ".join(facts), caption=True)
            show_literal(text)
            if item.get("contact"):
                st.caption("Contact details (private: only moderators see them, never published)")
                st.code(visible_text(str(item["contact"])), language=None)
            if item.get("evidence_url"):
                st.caption("Evidence link (open it with care and check it before approving)")
                st.code(visible_text(str(item["evidence_url"])), language=None)
            written = [str(item.get(k) or "") for k in ("text", "contact", "evidence_url",
                                                         "source_note", "kind")]
            if any(visible_text(w) != w for w in written):
                st.warning("This item holds hidden characters, shown here as codes such as "
                           "[U+202E]: they can make words or a link read differently from what "
                           "they are (a file ending '.exe' can look like '.jpg'). Check it before "
                           "approving, or reject it.")
            suggested = redact_contact_details(text)
            if suggested != text:
                st.warning("The text seems to contain an email address or phone number; "
                           "**Edit, then approve** suggests a version without it.")
            approve, edit, reject = st.columns(3)
            if approve.button("Approve as it is", key=f"approve-{key}"):
                act(item, "approve")
            with edit.popover("Edit, then approve"):
                new_text = st.text_area("Text as it will be published", value=suggested,
                                        key=f"text-{key}", height=140,
                                        max_chars=max(needs.MAX_DESCRIPTION, needs.MAX_ANNOTATION))
                if st.button("Save and approve", key=f"edit-{key}", type="primary"):
                    act(item, "edit-approve", text=new_text)
            with reject.popover("Reject"):
                reason = st.text_input("Why (kept in the log)", key=f"reason-{key}",
                                       max_chars=300)
                if st.button("Reject", key=f"reject-{key}"):
                    act(item, "reject", reason=reason)
    if len(waiting) > SHOWN:
        st.caption(f"The {SHOWN} oldest of {len(waiting)} waiting; the rest follow when these "
                   "are done.")
with log:
    entries = pd.DataFrame(needs.moderation_log(store, user),
                           columns=["acted_at", "moderator", "item_type", "item_id", "action",
                                    "reason", "before_text", "after_text"])
    entries.loc[entries["before_text"] == entries["after_text"], "after_text"] = "(unchanged)"
    st.caption("The latest 500 actions, newest first; times are UTC. 'Text after' differs "
               "from 'Text before' only for edits.")
    st.dataframe(visible_cells(entries), hide_index=True, width="stretch",
                 column_config={"acted_at": "When (UTC)", "moderator": "Who", "item_type": "Item",
                                "item_id": "Number", "action": "Action", "reason": "Reason",
                                "before_text": "Text before", "after_text": "Text after"})
    st.download_button("Download the log (CSV)", layers.to_csv(entries),
                       file_name="moderation-log.csv", mime="text/csv", key="dl_log")

with requests:
    st.markdown("A resident may ask for a copy of everything held about their report, or for it "
                "to be erased (UK GDPR). They quote the **reference number** shown after sending.")
    st.caption(f"Retention rule, applied every day: {retention.Rule.from_settings(load_settings()).describe()}.")
    quoted = st.text_input("Reference number", key="request_ref", max_chars=20)
    if quoted:
        try:
            ref = resident_rights.parse_reference(quoted)
            record = resident_rights.export(store, user, ref)
        except REFUSED as exc:
            show_problems(exc)
        else:
            report = record["report"]
            with st.container(border=True, key="request-report"):
                st.markdown(f"**Report {ref}: {escape_markdown(taxonomy.label(str(report['category'])))}**"
                            f" · {escape_markdown(str(report['status']))}")
                st.caption(escape_markdown(
                    f"received {report['created_at']:%d %b %Y %H:%M} · about "
                    f"{area_name(str(report['lsoa21_code']))} · {record['support']['count']} said it "
                    f"affects them too · {len(record['moderation_log'])} log entries"))
                show_literal(report["description"])
                for label, name in (("Contact details", "contact"), ("Postcode", "postcode")):
                    if report.get(name):
                        st.caption(label)
                        st.code(str(report[name]), language=None)
            st.download_button("Download everything held about it (JSON)",
                               resident_rights.to_json(record), file_name=f"report-{ref}.json",
                               mime="application/json", key=f"export-{ref}")
            sure = st.checkbox(f"I have checked that the request is about report {ref}: erase it, "
                               "its contact details, support and the text the log kept, for good",
                               key=f"sure-{ref}")
            if st.button("Erase this report", key=f"erase-{ref}", disabled=not sure):
                try:
                    entry = resident_rights.erase(store, user, ref)
                except REFUSED as exc:
                    show_problems(exc)
                else:
                    st.session_state[FLASH] = f"Done: {entry}."
                    del st.session_state["request_ref"]
                    st.rerun()
