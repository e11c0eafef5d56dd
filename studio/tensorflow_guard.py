"""Keeps Streamlit from resetting TensorFlow under work that is still running.

After every script run, fragment reruns included, Streamlit (checked on 1.67) calls
`keras.backend.clear_session()` through `script_runner._clean_problem_modules`. That clears
TensorFlow's kernel cache process-wide while other threads may be running ops: the Train
page's one-second fragment cleared it under a training step and the server died with a
segmentation fault in a `tf_Compute` thread (issue 14; reproduced outside Streamlit with a
thread that trains while the main thread calls `clear_session()` every second). Other
sessions' scoring in the server process is exposed the same way.

The app keeps no per-run Keras state to clear: models are loaded once per server and shared
(`st.cache_resource`). So the hook is replaced by one that keeps only its matplotlib cleanup.
Private Streamlit API; tests/app/test_app.py checks that a script run no longer resets Keras.
"""

from __future__ import annotations

import sys


def _close_matplotlib_figures() -> None:
    """What Streamlit's hook does besides clearing Keras: figures left open by a run are closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def keep_keras_state() -> None:
    """Replaces Streamlit's post-run Keras reset (idempotent; called by every page's setup)."""
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _close_matplotlib_figures
