"""HTTP edge (FastAPI). Routes parse, call one application method and answer."""

from timeline.api.app import create_app

__all__ = ["create_app"]
