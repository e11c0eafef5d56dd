"""Weights: the pretrained catalog, downloads, and your own weight files."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import studio
from mesonet.models.networks import ARCHITECTURE_TITLES
from mesonet.models.weights import catalog_status, list_weights, model_card, weights_path

studio.page_setup(model_picker=False)  # the picker comes last, once a file accepted below is a choice
st.title("Weights")
st.write(
    "The catalog's pretrained networks, checked against their SHA-256 before use, and any weight file of your own."
)

entries = list_weights()
statuses = {entry.name: catalog_status(entry.name) for entry in entries}
st.dataframe(
    pd.DataFrame(
        [
            {
                "name": e.name,
                "SHA-256": e.sha256,  # second: visible without scrolling (issue 21)
                "architecture": e.arch_title,
                "trained on": e.trained_on,
                "parameters": f"{e.trainable_params:,}",
                "threshold": e.threshold,
                "status": statuses[e.name],
                "licence": e.license,
                "source": e.source,
            }
            for e in entries
        ]
    ),
    hide_index=True,
    column_config={"source": st.column_config.LinkColumn("source", display_text="authors' repository")},
)

# Long sentences: one block per entry, where they wrap (a table column would cut them off).
st.subheader("What each file is good and bad at")
for entry in entries:
    with st.container(border=True):
        st.markdown(f"**{entry.title}** ({entry.name}): trained on {entry.trained_on}.")
        if entry.validated is not None:
            v = entry.validated
            st.markdown(
                f"Validated on: {', '.join(v.manipulations)}; video compression down to {v.min_bits_per_pixel} bits "
                f"per pixel; faces from {v.min_face_px} pixels wide. Outside that range a verdict carries a note."
            )
        if entry.known_failures:
            st.markdown(f"**Known failures**: {entry.known_failures}")
        if (card := model_card(entry.name)) is not None:
            with st.expander(f"Model card: {entry.name}", icon=":material/description:"):
                st.markdown(card)

missing = [name for name, status in statuses.items() if status != "present"]
if missing:
    if st.button(f"Download {len(missing)} missing file(s)", icon=":material/download:", type="primary"):
        for name in missing:
            bar = st.progress(0.0, text=f"Downloading {name}...")
            with studio.shown_errors(stop=False):
                path = weights_path(
                    name,
                    progress=lambda done, total, bar=bar, name=name: bar.progress(
                        min(done / total, 1.0) if total else 0.0, text=f"Downloading {name}: {done / 1024:.0f} KiB"
                    ),
                )
                bar.progress(1.0, text=f"{name}: saved to {path}, SHA-256 verified")
else:
    st.success(f"All {len(entries)} pretrained files are present and verified.", icon=":material/check_circle:")

st.subheader("Your own weights")
st.write(
    "Upload weights saved from a Meso4 or MesoInception4 (`.h5`, `.weights.h5`) or a whole `.keras` "
    "model. The architecture is read from the file; once accepted, the file is the sidebar's choice, and can be "
    "picked there on every page, for this session. `.keras` files load in safe mode: files carrying code are "
    "refused."
)
# Outside the form, so that it keeps its value after a submit (the form clears its uploader).
arch = st.radio(
    "Architecture of the file",
    ["detect", *ARCHITECTURE_TITLES],
    format_func={"detect": "Read it from the file", **ARCHITECTURE_TITLES}.get,
    horizontal=True,
    key="weights.arch",
)
with st.form("weights.upload_form", clear_on_submit=True):
    upload = st.file_uploader("Weight file", type=["h5", "keras"], key="weights.uploader")
    submitted = st.form_submit_button("Check and add", icon=":material/upload:")

if submitted and upload is not None:
    with studio.shown_errors(stop=False):
        stored, found = studio.store_custom_weights(upload.name, upload.getvalue(), None if arch == "detect" else arch)
        label = f"{stored.name} ({ARCHITECTURE_TITLES[found]})"
        studio.add_custom_weights(label, found, stored)
        # The sidebar's picker (drawn last, below) shows the new file at once, whatever it showed before.
        st.session_state.update({"model.arch": found, "model.weights": label})
        st.success(
            f"Accepted {studio.plain(stored.name)} as {ARCHITECTURE_TITLES[found]} weights; the sidebar now uses it.",
            icon=":material/check_circle:",
        )
elif submitted:
    st.warning("Choose a weight file first.")

custom = st.session_state.get(studio.CUSTOM_KEY, {})
if custom:
    st.dataframe(
        pd.DataFrame([{"name": label, "architecture": ARCHITECTURE_TITLES[c["arch"]]} for label, c in custom.items()]),
        hide_index=True,
    )

# Last, so that a file accepted above is already in the picker.
studio.weights_picker()
