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
    """Add the ``keys`` subcommand."""
    p = add_command(
        subparsers,
        "keys",
        "the seekers' data keys: status, rotate the master key, make a master key",
        "Every seeker's personal fields are sealed with a data key of its own, wrapped by the "
        "master key TIMELINE_MASTER_KEY and kept outside the data backup (SQLite: "
        "<store>.keys.db beside the store; PostgreSQL: the schema timeline_keys, or "
        "<schema>_keys; TIMELINE_KEYS_URL elsewhere; docs/storage.md). ACTION is one of: "
        "status — count the keys by key version and by the master key that wraps them "
        "(current = TIMELINE_MASTER_KEY, previous = TIMELINE_MASTER_KEY_PREVIOUS, neither: "
        "these cannot be opened) and the erased seekers, with where the keys live and the "
        "current master key's id (8 bytes of a hash, never the key); "
        "rotate — with the new key in TIMELINE_MASTER_KEY and the old one in "
        "TIMELINE_MASTER_KEY_PREVIOUS, re-wrap every data key under the new key (batches of "
        "1,000, each committed: a second run finishes an interrupted rotation and changes "
        "nothing after a complete one; the events are not touched; a key neither master key "
        "opens stops it with an error naming the seeker), then drop "
        "TIMELINE_MASTER_KEY_PREVIOUS everywhere; "
        "new-master — print a new master key (base64 of 32 random bytes) for the secret "
        "store, never to be kept beside the data or its backups.",
    )
    p.add_argument("action", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    p.add_argument("--json", action="store_true", help="status: one JSON object, for scripts")
    p.set_defaults(func=cmd_keys)


ACTIONS = ("status", "rotate", "new-master")


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "new-master":
        return cmd_new_master(args)
    if args.action == "rotate":
        return cmd_rotate(args)
    return cmd_status(args)


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
