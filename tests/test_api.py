"""The public API in mesonet/__init__.py: small, visible to type checkers, and free at import."""

from __future__ import annotations

import subprocess
import sys

import mesonet


def test_importing_mesonet_loads_neither_tensorflow_nor_streamlit():
    code = (
        "import sys, mesonet\n"
        "assert 'tensorflow' not in sys.modules and 'streamlit' not in sys.modules\n"
        "mesonet.FrameSampling, mesonet.verdict_for\n"
        "assert 'tensorflow' not in sys.modules and 'streamlit' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_name_resolves_and_is_listed_once():
    names = mesonet.__all__
    assert list(names) == sorted(names) and len(set(names)) == len(names) and len(names) <= 20
    for name in names:
        assert getattr(mesonet, name) is not None, name
