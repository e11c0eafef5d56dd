"""Labelled datasets: class-folder layouts, splits, and uploaded ZIPs unpacked safely."""
