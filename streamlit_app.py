"""MesoNet Studio: the router. Each page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="MesoNet Studio", page_icon=":material/face_retouching_off:", layout="wide")

PAGES = [
    st.Page("pages/analyse.py", title="Analyse", icon=":material/search:", default=True),
    st.Page("pages/compare.py", title="Compare models", icon=":material/compare:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/weights.py", title="Weights", icon=":material/database:"),
]
# The menu is drawn here rather than by Streamlit: because the page files live in a folder named
# pages/, Streamlit's own menu can show that folder's file names (ui, ...) while a run is busy.
page = st.navigation(PAGES, position="hidden")
with st.sidebar:
    st.markdown("### MesoNet Studio")
    for entry in PAGES:
        st.page_link(entry)
    st.divider()
page.run()
