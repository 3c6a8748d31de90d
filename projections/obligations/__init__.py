"""The obligations projection: what is due, for whom, by when, and whether it was met.

``tables.py`` (the DDL and every statement, per dialect), ``projection.py`` (what the log does
to the tables: apply, load, settle), ``view.py`` (the reads)."""

from projections.obligations.projection import ObligationsProjection
from projections.obligations.view import ObligationsView, Unevaluable

__all__ = ["ObligationsProjection", "ObligationsView", "Unevaluable"]
