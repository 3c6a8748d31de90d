"""Areas as reference data: municipality code -> employment area and pilot area, each valid
for a date range (``timeline/data/areas.toml``). Reading the package file is the only I/O here."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    kind: str  # "employment_area" | "pilot_area"
    valid_from: date
    valid_until: date | None
    municipalities: frozenset[str]
    confidence: str

    def covers(self, municipality: str, on: date) -> bool:
        return (
            municipality in self.municipalities
            and self.valid_from <= on
            and (self.valid_until is None or on <= self.valid_until)
        )


@dataclass(frozen=True)
class Areas:
    version: str
    areas: tuple[Area, ...]

    def _find(self, kind: str, municipality: str, on: date) -> str | None:
        for area in self.areas:
            if area.kind == kind and area.covers(municipality, on):
                return area.id
        return None

    def employment_area(self, municipality: str, on: date) -> str | None:
        """The employment area (työllisyysalue) of a municipality on a day, if any."""
        return self._find("employment_area", municipality, on)

    def pilot_area(self, municipality: str, on: date) -> str | None:
        """The pilot area (kokeilualue) a municipality belonged to on a day, if any."""
        return self._find("pilot_area", municipality, on)

    def name(self, area_id: str) -> str:
        return next((a.name for a in self.areas if a.id == area_id), area_id)


def parse_areas(text: str) -> Areas:
    """Areas from the text of an areas TOML file; overlapping areas of one kind are refused."""
    raw = tomllib.loads(text)
    out: list[Area] = []
    for kind in ("employment_area", "pilot_area"):
        for item in raw.get(kind, []):
            out.append(_area(kind, item))
    for i, a in enumerate(out):
        for b in out[i + 1 :]:
            if a.kind == b.kind and a.municipalities & b.municipalities and _overlap(a, b):
                raise ValueError(f"areas {a.id} and {b.id} overlap in time and municipalities")
    return Areas(version=str(raw["version"]), areas=tuple(out))


def _area(kind: str, item: dict[str, Any]) -> Area:
    codes = [str(c) for c in item["municipalities"]]
    for code in codes:
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"{item['id']}: municipality code {code!r} is not three digits")
    return Area(
        id=str(item["id"]),
        name=str(item["name"]),
        kind=kind,
        valid_from=item["valid_from"],
        valid_until=item.get("valid_until"),
        municipalities=frozenset(codes),
        confidence=str(item.get("confidence", "assumed")),
    )


def _overlap(a: Area, b: Area) -> bool:
    a_end = a.valid_until or date.max
    b_end = b.valid_until or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


@functools.lru_cache(maxsize=1)
def load_areas() -> Areas:
    """The areas shipped with the package."""
    text = resources.files("timeline").joinpath("data/areas.toml").read_text(encoding="utf-8")
    return parse_areas(text)
