"""How every page shows a problem: the core's one-line message in an error box, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from mesonet.errors import MesonetError
from studio.text import plain


def show_error(error: Exception | str) -> None:
    """Shows the core's message for a user's bad input; any other exception is a bug worth a traceback.

    A string is shown as Markdown (the page's own words); a MesonetError's message names the user's
    files, so it is shown literally.
    """
    if isinstance(error, str):
        st.error(error, icon=":material/error:")
    elif isinstance(error, MesonetError):
        st.error(plain(error), icon=":material/error:")
    else:
        raise error


@contextlib.contextmanager
def shown_errors(*, stop: bool = True) -> Iterator[None]:
    """Runs the block; a MesonetError inside it is shown with `show_error`.

    Args:
        stop: end the page's run after showing the error (the default: what follows needs the
            block's result); False carries on after the block.
    """
    try:
        yield
    except MesonetError as exc:
        show_error(exc)
        if stop:
            st.stop()
