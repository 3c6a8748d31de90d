#!/usr/bin/env python3
"""Verify a `timeline export` folder offline, with nothing but Python (3.11 or later):

    python ops/verify_export.py EXPORT_DIR

Runs the standalone verifier src/timeline/audit/verify_export.py: one source, the very file
`timeline export` copies into every export folder (where `python verify_export.py .` runs it)."""

import runpy
from pathlib import Path

VERIFIER = Path(__file__).resolve().parents[1] / "src" / "timeline" / "audit" / "verify_export.py"

if __name__ == "__main__":
    runpy.run_path(str(VERIFIER), run_name="__main__")
