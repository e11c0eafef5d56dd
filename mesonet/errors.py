"""Errors the user can act on.

Every message says what went wrong and what to do about it, in one line, so that the
command line can print it as is and the app can show it in `st.error`.
"""

from __future__ import annotations


class MesonetError(Exception):
    """Base class: a problem the user can act on; str() is a one-line message."""


class WeightsError(MesonetError):
    """Weights that cannot be found, downloaded, verified or loaded."""


class MediaError(MesonetError):
    """A file that cannot be read as an image or a video."""


class NoFaceError(MesonetError):
    """No face was found where one is needed."""


class CancelledError(MesonetError):
    """Work stopped because the caller asked for it."""
