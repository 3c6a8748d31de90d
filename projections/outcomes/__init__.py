"""The outcomes projection: monthly outcome statistics by area, with small-cell suppression.

``tables.py`` (the DDL and every statement, per dialect), ``projection.py`` (what the log does
to the tables), ``view.py`` (the reads); pure, without a database: ``seeker.py`` (what one
seeker adds to each month), ``aggregate.py``, ``suppression.py``, ``measures.py``."""

from projections.outcomes.projection import OutcomesProjection
from projections.outcomes.view import OutcomesView

__all__ = ["OutcomesProjection", "OutcomesView"]
