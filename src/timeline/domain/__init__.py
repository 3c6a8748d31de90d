"""The domain: the job seeker's timeline, its event vocabulary, identity values, calendar and
obligation rules. Pure Python: no I/O, no clock, no frameworks (checked by import-linter)."""
