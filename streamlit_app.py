"""MesoNet Studio: the router. The pages live in pages/; studio/ holds the helpers they share."""

from __future__ import annotations

# The Live page's WebRTC stack (aiortc's libsrtp) crashes the process with a segfault when it
# loads after TensorFlow, so the server loads it first, before any page can load TensorFlow.
import aiortc  # noqa: F401
import streamlit as st

import studio

st.set_page_config(page_title="MesoNet Studio", page_icon=studio.app_icon(), layout="wide")
studio.swept_temp_folders()
studio.expired_weights_sweeper()
pages = studio.app_pages()
# The menu is drawn by studio.menu() rather than by Streamlit: because the page files live in a
# folder named pages/, Streamlit's own menu can list that folder's files instead.
page = st.navigation(pages, position="hidden")
studio.menu(pages)
page.run()
