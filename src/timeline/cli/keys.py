"""``timeline keys``: the key ring of the seekers' data keys (docs/storage.md) — ``status``
(how many keys, by key version and by the master key that wraps them; how many seekers are
erased), ``rotate`` (re-wrap every key under a new master key) and ``new-master`` (print a
new master key)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from timeline.cli import input as cli_input
from timeline.cli.input import add_command
from timeline.store.keys import KeyRing, new_master_key


def register(subparsers: Any) -> None:
    """Add the ``keys`` subcommand and its own subcommands."""
    keys = subparsers.add_parser(
        "keys",
        help="the seekers' data keys: status, rotate the master key, make a master key",
        description="Every seeker's personal fields are sealed with a data key of its own, "
        "wrapped by the master key TIMELINE_MASTER_KEY and kept outside the data backup "
        "(SQLite: <store>.keys.db beside the store; PostgreSQL: the schema timeline_keys, or "
        "<schema>_keys; TIMELINE_KEYS_URL elsewhere). See docs/storage.md.",
    )
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND")

    p = add_command(
        sub,
        "status",
        "how many data keys, by key version and by master key; how many seekers are erased",
        "Count the key table's rows: keys by key version, by the master key that wraps them "
        "(current = TIMELINE_MASTER_KEY, previous = TIMELINE_MASTER_KEY_PREVIOUS, other = "
        "neither: these cannot be opened), and erased seekers (their keys destroyed). Prints "
        "where the keys live and the current master key's id (8 bytes of a hash, never the "
        "key). --json prints one JSON object.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    p.set_defaults(func=cmd_status)

    p = add_command(
        sub,
        "rotate",
        "re-wrap every data key under the current master key",
        "Rotate the master key: set TIMELINE_MASTER_KEY to the new key and "
        "TIMELINE_MASTER_KEY_PREVIOUS to the old one, run this, then drop "
        "TIMELINE_MASTER_KEY_PREVIOUS everywhere. Every data key wrapped by the old key is "
        "unwrapped with it and wrapped again with the new one (in batches of 1,000, each "
        "committed; running it again finishes an interrupted rotation and changes nothing "
        "after a complete one). The sealed events are not touched. A key opened by neither "
        "master key stops the rotation with an error naming the seeker. Prints how many keys "
        "were re-wrapped.",
    )
    p.set_defaults(func=cmd_rotate)

    p = sub.add_parser(
        "new-master",
        help="print a new random master key (base64 of 32 bytes)",
        description="Print a new master key for TIMELINE_MASTER_KEY: base64 of 32 random bytes "
        "from the operating system. Keep it in the secret store, never beside the data or "
        "its backups: without it no personal field can be read.",
    )
    p.set_defaults(func=cmd_new_master)


def _ring(args: argparse.Namespace) -> KeyRing:
    return KeyRing.from_settings(cli_input.settings(args))


def cmd_status(args: argparse.Namespace) -> int:
    ring = _ring(args)
    try:
        found = ring.status()
    finally:
        ring.close()
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    by_master = found["by_master_key"]
    versions = ", ".join(f"v{v}: {n:,}" for v, n in found["by_key_version"].items()) or "-"
    sys.stdout.write(
        f"keys live in     {found['where']}\n"
        f"master key id    {found['master_key_id']}\n"
        f"data keys        {found['keys']:,} ({versions})\n"
        f"wrapped by       current {by_master['current']:,}, previous "
        f"{by_master['previous']:,}, neither {by_master['other']:,}\n"
        f"erased seekers   {found['erased']:,}\n"
    )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    ring = _ring(args)
    try:
        count = ring.rotate()
        print(f"re-wrapped {count:,} data keys under master key id {ring.master_id}")
    finally:
        ring.close()
    return 0


def cmd_new_master(args: argparse.Namespace) -> int:
    print(new_master_key())
    return 0
