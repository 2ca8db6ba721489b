"""Capture: the browser, the pages it snapshots, and one post's capture end to end."""
