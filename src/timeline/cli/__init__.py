"""The ``timeline`` command (an edge: nothing in the service imports it).

Rooms:

- ``main``: the parser and :func:`~timeline.cli.main.main` (the console script
  ``timeline = timeline.cli.main:main``; ``python -m timeline.cli`` runs it too).
- ``input``: the input boundary — :func:`~timeline.cli.input.add_command` (a subcommand with
  ``--db``), typed argument converters, the settings of a command, the table of errors that
  are the user's to fix (exit 2), JSON Lines reading.
- ``wiring``: :func:`~timeline.cli.wiring.services`, the only way a command gets what it
  runs on — :func:`timeline.bootstrap.bootstrap` for the command's settings, closed when the
  command ends — and :func:`~timeline.cli.wiring.log_read` for personal reads.
- ``progress``: bars with totals and honest rates, and phases without a count.
- One module per group of commands: ``events`` (import, history), ``obligations``,
  ``audit`` (verify, export, digest), ``projections`` (rebuild, quarantine, worker),
  ``stats``, ``admin`` (serve, token, demo).

Adding a group of commands:

1. Write ``timeline/cli/NAME.py`` with ``register(subparsers)``, which adds each command with
   ``timeline.cli.input.add_command(subparsers, name, help, description)`` and sets
   ``func=cmd_…`` (``cmd_…(args) -> int``, the exit status).
2. Add the module to ``GROUPS`` in ``timeline/cli/main.py``: one line.

A command opens its services with ``with services(args) as built:`` and raises
:class:`~timeline.cli.input.UsageError` (or a domain error) for input the user can fix. Modules
import each other's public names only (no ``_private`` imports across modules), never
``main``; heavy imports used by one command (uvicorn, the scheduler) stay inside it.
"""
