"""What-if replay: the law as a parameter. Every spell active in a window is evaluated again,
in memory, as if another ruleset had been in force, and reported beside the figures under the
rulesets that were (docs/whatif.md)."""

from projections.whatif.cache import WhatifCache, cache_for
from projections.whatif.draft import DraftError, parse_draft
from projections.whatif.log import (
    LogRead,
    area_filter,
    read_log,
    read_window,
    seeker_pairs,
    whatif_report,
)
from projections.whatif.replay import (
    MIN_CELL,
    Report,
    Scenario,
    Window,
    pairs,
    plausible,
    replay,
)

__all__ = [
    "MIN_CELL",
    "DraftError",
    "LogRead",
    "Report",
    "Scenario",
    "WhatifCache",
    "Window",
    "area_filter",
    "cache_for",
    "pairs",
    "parse_draft",
    "plausible",
    "read_log",
    "read_window",
    "replay",
    "seeker_pairs",
    "whatif_report",
]
