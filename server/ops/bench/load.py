"""`tutor bench load`: N simulated voice clients on loopback for a bounded time, each
speaking questions at real-time pace, one after another. Reports turns, errors, busy
refusals and latency percentiles. Stops by itself: no new turn starts after `seconds`."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from server.ops.bench.voice import TurnResult, Utterance, talk


@dataclass
class LoadReport:
    clients: int
    seconds: float
    results: list[TurnResult] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)

    @property
    def errors(self) -> Counter:
        return Counter(r.error for r in self.results if r.error)


async def run(
    url: str, utterances: list[Utterance], clients: int, seconds: float, on_turn=None
) -> LoadReport:  # type: ignore[no-untyped-def]
    report = LoadReport(clients, seconds)
    stop_at = time.monotonic() + seconds

    async def client(i: int) -> None:
        rng = random.Random(i)
        await asyncio.sleep(rng.uniform(0, 2))  # don't start in lockstep
        while time.monotonic() < stop_at:
            try:
                result = await talk(url, rng.choice(utterances), timeout=60)
            except Exception as exc:  # noqa: BLE001 - refused or dropped connection
                report.refusals[type(exc).__name__] += 1
                await asyncio.sleep(1)
                continue
            if result.error == "busy":
                report.refusals["busy"] += 1
                await asyncio.sleep(1)
                continue
            report.results.append(result)
            if on_turn:
                on_turn()
            await asyncio.sleep(rng.uniform(0.5, 2.0))  # the learner thinks

    await asyncio.gather(*(client(i) for i in range(clients)))
    return report
