"""A tracker that dies before binding its port."""
raise SystemExit("tracker: cannot start (deliberately broken)")
