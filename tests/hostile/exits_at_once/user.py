"""Exits at once with status 3."""
raise SystemExit(3)
