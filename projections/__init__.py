"""Read models built from the timeline's global event log. Each subpackage owns its tables, tracks
its log position in the same transaction as its rows, and can be rebuilt from zero. The write
side never imports this package (an import-linter contract)."""
