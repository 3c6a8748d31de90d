"""The bulk import (``timeline import``): two streaming passes, flat memory, ``COPY`` on
PostgreSQL (see :mod:`timeline.bulk.engine`)."""

from timeline.bulk.engine import ImportResult, import_file

__all__ = ["ImportResult", "import_file"]
