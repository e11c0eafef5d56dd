"""Faces: detection, landmarks and the authors' alignment into the networks' input crop."""
