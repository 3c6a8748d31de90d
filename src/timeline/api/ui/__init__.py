"""The web view under ``/ui``: server-rendered pages (Jinja2 templates in this package, the
timeline and charts from :mod:`timeline.render`) behind the API's tokens, roles, scopes,
purposes and access log. See docs/ui.md."""

from timeline.api.ui.routes import ui_router

__all__ = ["ui_router"]
