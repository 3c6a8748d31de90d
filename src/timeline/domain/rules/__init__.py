"""Obligation rules: pure functions of (a seeker's facts, the day, the rulesets, the calendar).

Entry point :func:`evaluate`. Rulesets are data (``timeline/rulesets/*.toml``, loaded at the
edge by :func:`timeline.rulesets.load_rulesets`); the domain only receives :class:`Ruleset`
objects. See RULES.md for the rules and their confidence tags.
"""

from timeline.domain.rules.evaluate import RULES, evaluate
from timeline.domain.rules.obligations import KINDS, Kind, Obligation, Status, status_on
from timeline.domain.rules.requirement import counts
from timeline.domain.rules.rulesets import TAGS, Ruleset, Rulesets, in_force_instead

__all__ = [
    "KINDS",
    "RULES",
    "TAGS",
    "Kind",
    "Obligation",
    "Ruleset",
    "Rulesets",
    "Status",
    "counts",
    "evaluate",
    "in_force_instead",
    "status_on",
]
