"""mesonet.analysis.results: crop files are named the same by the app and the command line, faces counted from 1."""

from __future__ import annotations

import io
import zipfile

from mesonet.analysis.pipeline import extraction_from_face_crop
from mesonet.analysis.results import crop_filename, crops_zip, save_crops


def test_crop_names_count_faces_from_one():
    assert crop_filename("clip", 42, 0) == "clip_frame000042_face1.png"
    assert crop_filename("clip", 7, 2) == "clip_frame000007_face3.png"


def test_zip_and_folder_hold_the_same_files(sample_images, tmp_path):
    extraction = extraction_from_face_crop(sample_images["real00772"])
    names = zipfile.ZipFile(io.BytesIO(crops_zip(extraction, "real00772"))).namelist()
    written = save_crops(extraction, tmp_path / "crops", "real00772")
    assert names == [p.name for p in written] == ["real00772_frame000000_face1.png"]
