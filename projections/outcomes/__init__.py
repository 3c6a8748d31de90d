"""The outcomes projection: monthly outcome statistics by area, with small-cell suppression."""

from projections.outcomes.view import OutcomesProjection, OutcomesView

__all__ = ["OutcomesProjection", "OutcomesView"]
