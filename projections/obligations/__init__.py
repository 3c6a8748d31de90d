"""The obligations projection: what is due, for whom, by when, and whether it was met."""

from projections.obligations.view import ObligationsProjection, ObligationsView, Unevaluable

__all__ = ["ObligationsProjection", "ObligationsView", "Unevaluable"]
