"""The input boundary of the ``timeline`` command.

- :func:`add_command`: a subcommand with the ``--db`` option every command takes.
- Typed argument converters: argparse refuses a bad argument itself, naming the argument and
  why, with exit 2 (``argument SEEKER_ID: 'x' is not a seeker id …``).
- :func:`user_error`: the one table of exception classes that mean "the input or the
  environment is wrong, the user can fix it". ``timeline.cli.main.main`` prints those as
  ``timeline COMMAND: reason`` and exits 2; any other exception is a bug and keeps its traceback.
- :func:`settings`: the settings of a command (environment and ``--db``), refused when they
  cannot work.
- :func:`check_database`: the database URL is usable and the database answers, before a command
  starts (an unreachable PostgreSQL is named at once, not after a pool's 30-second wait).
- :func:`open_input` and :func:`read_jsonl`: a file the user named (or standard input), read
  as JSON Lines, every bad line named by its number and reason.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlparse, urlunparse

from pydantic import ValidationError

from timeline.domain.errors import TimelineError
from timeline.jsonl import BOM, LineError, read_jsonl
from timeline.settings import Settings, database
from timeline.store.keys import MasterKeyError, SeekerErased
from timeline.vocabulary import parse_instant

T = TypeVar("T")
CONNECT_TIMEOUT_SECONDS = 5


class UsageError(Exception):
    """Bad input, or an environment the user can fix (a file, the database); the message says
    what and why. ``main`` prints it and exits 2."""


# -- subcommands --------------------------------------------------------------------------------


def add_command(
    subparsers: Any, name: str, help_: str, description: str | None = None
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` to ``subparsers`` (what ``add_subparsers`` returned), with
    ``help_`` for the command list, ``description`` (default: ``help_``) for its ``--help``,
    and the ``--db`` option every command takes."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_, description=description or help_
    )
    p.add_argument(
        "--db",
        type=database_url,
        metavar="URL",
        help="database URL (default: $TIMELINE_DATABASE_URL or sqlite:///./timeline.db)",
    )
    return p


# -- argument converters ------------------------------------------------------------------------


def seeker_id(value: str) -> str:
    """A seeker id: a UUID, returned in its canonical form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        msg = f"{value!r} is not a seeker id; write a UUID (8b9f2f6e-2d7c-4d55-a8a1-5b2a4b0f0c33)"
        raise argparse.ArgumentTypeError(msg) from None


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"{value!r} is not a date; write YYYY-MM-DD"
        raise argparse.ArgumentTypeError(msg) from None


def aware(value: str) -> datetime:
    """An instant with its UTC offset, read as the API reads one (the same words)."""
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_empty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"{value!r} is not a whole number of at least 1"
        raise argparse.ArgumentTypeError(msg)
    return number


def database_url(value: str) -> str:
    try:
        database(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def municipality_scope(value: str) -> str:
    """``*`` or comma-separated three-digit municipality codes (``398,016``)."""
    if value.strip() == "*":
        return "*"
    codes = [c.strip() for c in value.split(",")]
    bad = [c for c in codes if not (len(c) == 3 and c.isascii() and c.isdigit())]
    if bad:
        msg = (
            f"{', '.join(repr(c) for c in bad)} is not a municipality code; write three-digit "
            "codes separated by commas (398,016) or * for all"
        )
        raise argparse.ArgumentTypeError(msg)
    return ",".join(codes)


def municipality(value: str) -> str:
    """One three-digit municipality code."""
    code = municipality_scope(value)
    if code == "*" or "," in code:
        raise argparse.ArgumentTypeError(f"{value!r} is not one three-digit municipality code")
    return code


# -- the user-error table -----------------------------------------------------------------------


def user_error(exc: BaseException) -> str | None:
    """The message for an exception that is the user's to fix; None for a bug."""
    if isinstance(exc, UsageError | TimelineError | MasterKeyError | SeekerErased):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        # a file or directory the user named: missing, unreadable, unwritable, a directory…
        return f"{exc.filename}: {exc.strerror or exc}"
    unreachable = _connection_failure(exc)
    if unreachable is not None:
        return f"the database connection failed: {unreachable}"
    return None


def _connection_failure(exc: BaseException) -> str | None:
    """The reason, when ``exc`` (or what caused it) is PostgreSQL failing to connect or to
    serve (psycopg's ``OperationalError``: the server, the network, the pool; not our SQL,
    which raises ``ProgrammingError``)."""
    import psycopg  # noqa: PLC0415 (only when something failed)

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.OperationalError):  # includes the pool's timeout
            return _first_line(current)
        current = current.__cause__ or current.__context__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the database -------------------------------------------------------------------------------


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return urlunparse(parsed._replace(netloc=netloc))


def settings(args: argparse.Namespace) -> Settings:
    """The settings (environment and ``--db``), refused with :class:`UsageError` when they
    cannot work: an invalid value, an unsupported URL, a database that does not answer."""
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    try:
        found = Settings(**overrides)
    except ValidationError as exc:
        reasons = [
            (f"TIMELINE_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "") + e["msg"]
            for e in exc.errors()
        ]
        raise UsageError(f"configuration: {'; '.join(reasons)}") from None
    check_database(found.database_url)
    return found


def check_database(url: str) -> None:
    """Refuse, with :class:`UsageError`, a database URL that cannot work: unsupported, a SQLite
    file in a directory that does not exist, a PostgreSQL server that does not answer (within
    ``CONNECT_TIMEOUT_SECONDS``) or refuses the connection. Read from the URL as the store
    reads it (:func:`timeline.settings.database`)."""
    try:
        db = database(url)
    except ValueError as exc:
        raise UsageError(f"TIMELINE_DATABASE_URL: {exc}") from None
    if db.kind == "sqlite":
        path = Path(db.path)
        if not path.parent.is_dir():
            msg = f"no directory {path.parent} for the SQLite database {path}"
            raise UsageError(msg)
        if path.exists() and not path.is_file():
            raise UsageError(f"the SQLite database {path} is not a file")
    elif db.kind == "postgres":
        import psycopg  # noqa: PLC0415 (only for PostgreSQL URLs)

        conninfo = psycopg.conninfo.make_conninfo(
            **{"connect_timeout": str(CONNECT_TIMEOUT_SECONDS), **db.libpq()}
        )
        try:
            with psycopg.connect(conninfo):
                pass
        except psycopg.OperationalError as exc:
            msg = f"cannot connect to PostgreSQL at {redacted(url)}: {_first_line(exc)}"
            raise UsageError(msg) from None


def validation_reasons(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> list[str]:
    """pydantic errors as ``field: reason`` texts."""
    return [
        f"{prefix}{'.'.join(str(p) for p in e.get('loc', ())) or '(value)'}: {e.get('msg')}"
        for e in errors
    ]


# -- JSON Lines ---------------------------------------------------------------------------------


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """The bytes of a file the user named, or of standard input for ``-`` (not closed)."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as source:  # a missing or unreadable file: OSError naming it
        yield source


__all__ = ["BOM", "LineError", "read_jsonl"]  # re-exported: the readers live in timeline.jsonl
