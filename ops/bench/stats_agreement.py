"""The outcome statistics against the independent day-by-day evaluator on a large demo dataset
(issue 5: at least 5,000 seekers). Prints the figures and timings as JSON; exits 1 on any
mismatch. Run from the repository root:

    python ops/bench/stats_agreement.py --seekers 5000 [--seed 11] [--db sqlite:///tmp/agree.db]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from outcomes_bruteforce import load_and_compare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seekers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--db", default="memory:", help="store URL (memory:, sqlite:///FILE, ...)")
    args = parser.parse_args()
    result = load_and_compare(args.seekers, args.seed, args.db)
    bad = result["all"]["mismatches"] + result["municipality"]["mismatches"]
    summary = {
        **{k: v for k, v in result.items() if k not in ("all", "municipality")},
        "cells_compared": {lv: result[lv]["cells"] for lv in ("all", "municipality")},
        "mismatches": len(bad),
        "first_mismatches": bad[:20],
    }
    print(json.dumps(summary, indent=2))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
