"""MesoNet Studio: the router. Each page lives in pages/; the list is pages/ui.py's PAGE_SPECS."""

import streamlit as st

from pages import ui

st.set_page_config(page_title="MesoNet Studio", page_icon=":material/face_retouching_off:", layout="wide")

pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(ui.PAGE_SPECS)]
# The menu is drawn by ui.menu() rather than by Streamlit: because the page files live in a
# folder named pages/, Streamlit's own menu can list that folder's files (ui, ...) instead.
page = st.navigation(pages, position="hidden")
ui.menu()
page.run()
