"""Periodic background work that survives its own failures.

`await every(seconds, step, "what")` runs `await step()` forever, `seconds` apart,
logging (not raising) a failed round so that the next one still runs. Modules start
it in their lifespan's task group when their `background_jobs` setting is on; tests
leave it off and call the step (`run_once`) themselves, so they never sleep.

`sweep_expired(app, names)` is one such step for the per-address rate limits: Litestar's
in-memory store drops an expired count only when the same address comes back, so every
address that ever came would stay in memory; each module that keeps such a store sweeps
it every SWEEP_SECONDS.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

log = logging.getLogger(__name__)


async def every(seconds: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    while True:
        try:
            await step()
        except Exception:  # a failed round must not stop the next one
            log.exception("%s failed", what)
        await anyio.sleep(seconds)


SWEEP_SECONDS = 60


async def sweep_expired(app, store_names) -> None:
    """Forget the expired entries of these Litestar stores (per-address counts whose minute is over)."""
    for name in store_names:
        await app.stores.get(name).delete_expired()
