"""Audit: who read what (the access log), daily signed digests of the event log, exports an
auditor can verify offline."""
