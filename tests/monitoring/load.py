"""A bounded load generator: `python -m tests.monitoring.load URL --rate R --seconds S`.

Open loop at R predictions per second over a pool of keep-alive connections (plain
asyncio streams: a full HTTP client costs more CPU than the server it loads), for S
seconds at most. With --feedback-every N it labels every Nth prediction, ten at a time
through POST /feedback/batch. Prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

ROW = [5.1, 3.5, 1.4, 0.2]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, val = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(val)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def run(url: str, rate: float, seconds: float, connections: int, feedback_every: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"model": "iris", "inputs": [ROW]}).encode()
    start = time.perf_counter()
    deadline = start + seconds
    counts = {"sent": 0, "ok": 0, "failed": 0, "late": 0, "labelled": 0, "accepted": 0}
    latencies: list[float] = []
    next_slot = 0

    async def worker() -> None:
        nonlocal next_slot
        conn = Connection(host, port)
        pending: list[str] = []
        while True:
            slot = next_slot
            next_slot += 1
            due = start + slot / rate
            if due >= deadline or time.perf_counter() >= deadline:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing an open-loop load, not waiting on state
            elif delay < -0.5:
                counts["late"] += 1
            t0 = time.perf_counter()
            status, raw = await conn.post("/predict", body)
            latencies.append(time.perf_counter() - t0)
            counts["sent"] += 1
            if status != 200:
                counts["failed"] += 1
                continue
            counts["ok"] += 1
            if feedback_every and slot % feedback_every == 0:
                pending.append(json.loads(raw)["prediction_id"])
                if len(pending) == 10:
                    await label(conn, pending)
        if pending:
            await label(conn, pending)

    async def label(conn: Connection, pending: list[str]) -> None:
        items = [{"prediction_id": p, "label": 0} for p in pending]
        status, raw = await conn.post("/feedback/batch", json.dumps({"items": items}).encode())
        counts["labelled"] += len(items)
        if status == 200:
            counts["accepted"] += json.loads(raw)["counts"]["accepted"]
        pending.clear()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000, 3)

    return {
        **counts,
        "seconds": round(elapsed, 2),
        "rps": round(counts["ok"] / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--feedback-every", type=int, default=0)
    args = parser.parse_args()
    figures = asyncio.run(
        run(args.url, args.rate, min(args.seconds, 120), args.connections, args.feedback_every)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
