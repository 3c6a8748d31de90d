"""The outcome statistics view: reads of the published tables, and their upkeep (catch-up,
rebuilds) through :class:`~projections.runtime.DatedView`.

Tables: see ``tables.py`` (and docs/statistics-tables.md); what the log does to them:
``projection.py``; what one seeker adds to a month: ``seeker.py``."""

from __future__ import annotations

from typing import Any

from projections.outcomes.aggregate import ROW_COLUMNS
from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import parse_month
from projections.outcomes.projection import OutcomesProjection
from projections.outcomes.tables import TABLES
from projections.runtime import DatedView, EventLog, ViewDatabase


class OutcomesView(DatedView):
    """Reads and upkeep of the outcome statistics tables, kept from ``log`` (the
    :class:`~projections.runtime.EventLog` port: ``TimelineApp`` is one) in ``db`` (by default
    the log's own database). A backlog (a rebuild, a first catch-up) is loaded in bulk and
    published once at its end."""

    def __init__(
        self,
        log: EventLog,
        db: ViewDatabase | None = None,
        projection: OutcomesProjection | None = None,
    ) -> None:
        self.projection = projection or OutcomesProjection()
        super().__init__(log, db, self.projection)
        self.sql = TABLES[self.db.dialect]

    def state(self) -> dict[str, str]:
        with self.db.transaction() as tx:
            return {str(k): str(v) for k, v in tx.execute(self.sql.STATE_ALL)}

    def knows_area(self, area: str) -> bool:
        """Whether ``area`` can name rows: ``all``, ``pilot``, ``non_pilot``, an area id of the
        areas in use, or a municipality code (three digits)."""
        known = {"all", "pilot", "non_pilot"} | {a.id for a in self.projection.areas.areas}
        return area in known or (len(area) == 3 and area.isdigit())

    def monthly(
        self,
        from_month: str,
        to_month: str,
        area: str | None = None,
        measure: str | None = None,
    ) -> list[dict[str, Any]]:
        """Published rows for months ``from_month``..``to_month`` (``YYYY-MM``), optionally of
        one area (a municipality code, an area id, ``all``, ``pilot`` or ``non_pilot``) and one
        measure. Raises ValueError naming a bad argument."""
        parse_month(from_month)
        parse_month(to_month)
        if measure is not None and measure not in BY_NAME:
            raise ValueError(f"unknown measure {measure!r}; known: {', '.join(BY_NAME)}")
        sql = self.sql.monthly(area=area is not None, measure=measure is not None)
        params = [from_month, to_month, *(v for v in (area, measure) if v is not None)]
        with self.db.transaction() as tx:
            rows = tx.execute(sql, params)
        out = []
        for row in rows:
            item = dict(zip(ROW_COLUMNS, row, strict=True))
            item["suppressed"] = bool(item["suppressed"])
            item["provisional"] = bool(item["provisional"])
            item["value"] = None if item["value"] is None else float(item["value"])
            item["position"] = int(item["position"])
            out.append(item)
        return out
