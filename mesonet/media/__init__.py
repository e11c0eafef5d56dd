"""Media in: photos, videos (probed and decoded through ffmpeg with safe input), seeking, and the shipped samples."""
