"""A small HTTP/1.1 load generator for 127.0.0.1: N keep-alive connections, each sending one
request at a time, bounded by a request count and a time limit. Lighter on CPU than an HTTP
client library, which matters when the server shares two cores with it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # event_ids answered 200
    sent: list[str] = field(default_factory=list)  # event_ids sent (answered or not)
    errors: dict[str, int] = field(default_factory=dict)


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(
    port: int,
    bodies: Iterator[tuple[str, bytes]],
    deadline: float,
    result: LoadResult,
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
        return
    try:
        while time.monotonic() < deadline:
            try:
                event_id, body = next(bodies)
            except StopIteration:
                return
            result.sent.append(event_id)
            start = time.perf_counter()
            writer.write(_request(port, body))
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("server closed the connection")
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            status = int(status_line.split()[1])
            if status in (200, 201):  # 201: a new event; 200: a duplicate of one stored
                result.ok += 1
                result.acknowledged.append(event_id)
                result.latencies.append(time.perf_counter() - start)
            else:
                result.failed += 1
                key = f"HTTP {status}"
                result.errors[key] = result.errors.get(key, 0) + 1
    except (OSError, asyncio.IncompleteReadError) as exc:
        result.errors[type(exc).__name__] = result.errors.get(type(exc).__name__, 0) + 1
    finally:
        writer.close()


def run_load(
    port: int,
    make_envelope: Callable[[int], dict[str, Any]],
    *,
    clients: int,
    requests: int,
    seconds: float,
) -> LoadResult:
    """Send up to ``requests`` one-event POSTs over ``clients`` connections for at most
    ``seconds``."""

    def bodies() -> Iterator[tuple[str, bytes]]:
        for i in range(requests):
            env = make_envelope(i)
            yield env["event_id"], json.dumps(env).encode()

    shared = bodies()
    result = LoadResult()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(port, shared, deadline, result) for _ in range(clients)))

    start = time.perf_counter()
    asyncio.run(main())
    result.seconds = time.perf_counter() - start
    return result
