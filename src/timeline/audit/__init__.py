"""Audit: tamper evidence recomputed from the stored events (``verify``), who read what (the
access log), daily signed digests of the event log, the whole check the CLI and the nightly job
run (``checks``), and exports an auditor can verify offline."""
