"""The app's pages and menu, and the one workaround for how Streamlit treats a `pages/` folder."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import streamlit as st
from PIL import Image, ImageDraw


@functools.cache
def app_icon() -> Image.Image:
    """The browser tab's icon, drawn here: a Material icon name would make every page fetch it from
    fonts.gstatic.com, which fails offline and tells Google who uses the app (issue 21)."""
    size = 64
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=14, fill="#6C3BD1")  # the theme's primary colour
    # A face outline cut by a diagonal: "a face, questioned".
    draw.ellipse((16, 10, 48, 54), outline="white", width=5)
    draw.line((12, 52, 52, 12), fill="white", width=5)
    return icon


def app_pages() -> list[st.Page]:
    """The app's pages, in menu order; the first is the home page."""
    return [
        st.Page("pages/analyse.py", title="Analyse", icon=":material/search:", default=True),
        st.Page("pages/live_camera.py", title="Live camera", icon=":material/videocam:"),
        st.Page("pages/compare.py", title="Compare models", icon=":material/compare:"),
        st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
        st.Page("pages/class_round.py", title="Class round", icon=":material/groups:"),
        st.Page("pages/make_deepfake.py", title="Make a deepfake", icon=":material/face_retouching_natural:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/weights.py", title="Weights", icon=":material/database:"),
    ]


def menu(pages: Sequence[st.Page]) -> None:
    """The app's menu, at the top of the sidebar: one link per page of the router, in its order."""
    with st.sidebar:
        st.markdown("### MesoNet Studio")
        for page in pages:
            st.page_link(page)
        st.divider()


def ensure_router() -> None:
    """Makes every later run go through streamlit_app.py's navigation (the fresh-server quirk).

    Streamlit treats an app with a `pages/` folder as an old-style multipage app until some run
    calls `st.navigation`: on a fresh server, a visitor who lands directly on a page's URL gets
    that page's file run alone, without the router, and so would everyone after them until
    someone opened the home page (no menu, and the folder's files listed as pages). Switching
    the mode off here limits that to the run already under way, which draws the menu itself:
    the pages-folder mode registered each file under the URL path the router's `st.Page` infers
    from it, so the router's pages resolve as links. (Calling `st.navigation` here instead would
    change the page's widget ids mid-run.) Private Streamlit API (`PagesManager.uses_pages_directory`),
    checked on 1.67; the regression test is tests/app/test_browser.py's
    test_a_fresh_server_shows_the_app_menu_on_a_page_url. This is the only place that knows.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        menu(app_pages())
