"""MesoNet Studio: the router. The pages live in pages/; studio/ holds the helpers they share."""

from __future__ import annotations

# The Live page's WebRTC stack (aiortc's libsrtp) crashes the process with a segfault when it
# loads after TensorFlow, so the server loads it first, before any page can load TensorFlow.
import aiortc  # noqa: F401
import streamlit as st

import studio


def app_pages() -> list[st.Page]:
    """The app's pages, in menu order; the first is the home page."""
    return [
        st.Page("pages/analyse.py", title="Analyse", icon=":material/search:", default=True),
        st.Page("pages/live.py", title="Live camera", icon=":material/videocam:"),
        st.Page("pages/compare.py", title="Compare models", icon=":material/compare:"),
        st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/weights.py", title="Weights", icon=":material/database:"),
    ]


# Streamlit runs this file as __main__; studio.navigation imports it only for app_pages().
if __name__ == "__main__":
    st.set_page_config(page_title="MesoNet Studio", page_icon=":material/face_retouching_off:", layout="wide")
    pages = app_pages()
    # The menu is drawn by studio.menu() rather than by Streamlit: because the page files live in a
    # folder named pages/, Streamlit's own menu can list that folder's files instead.
    page = st.navigation(pages, position="hidden")
    studio.menu(pages)
    page.run()
