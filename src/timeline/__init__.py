"""timeline: an event-sourced timeline service for public employment services."""

__version__ = "0.1.0"
