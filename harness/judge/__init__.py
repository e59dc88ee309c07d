"""Judge: checks, statuses, points and explanations, derived from the records alone."""
