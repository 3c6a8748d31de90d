"""The rulesets as data: one TOML file per ruleset beside this module, read with ``tomllib``.

This is the edge (it reads package files); the domain only receives :class:`Ruleset` objects.
Each parameter is ``name = { value = ..., tag = "C" | "P" | "R" }`` with a comment above it
giving its source and the same tag.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from timeline.domain.rules.rulesets import Ruleset, Rulesets

RULESET_IDS = ("FI-2022-05", "FI-2022-07", "FI-2025-01", "FI-2026-01", "FI-2026-03")


def parse_ruleset(text: str) -> Ruleset:
    """A ruleset from the text of its TOML file."""
    return Ruleset.from_mapping(tomllib.loads(text))


def ruleset_text(ruleset_id: str) -> str:
    return resources.files(__name__).joinpath(f"{ruleset_id}.toml").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def load_rulesets() -> tuple[Ruleset, ...]:
    """Every ruleset shipped with the package, oldest first. Each file's ``id`` must match
    its name."""
    names = sorted(p.name for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))
    out = []
    for name in names:
        ruleset = parse_ruleset(ruleset_text(name.removesuffix(".toml")))
        if ruleset.id != name.removesuffix(".toml"):
            raise ValueError(f"{name}: id is {ruleset.id!r}")
        out.append(ruleset)
    return tuple(sorted(out, key=lambda r: r.in_force_from))


def default_rulesets() -> Rulesets:
    """The shipped rulesets without overrides."""
    return Rulesets(load_rulesets())
