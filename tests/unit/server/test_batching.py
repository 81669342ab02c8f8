"""``flush_periodically`` ends when cancelled, whenever the cancellation arrives."""

from __future__ import annotations

import asyncio

import pytest

from harness.server.batching import flush_periodically


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_cancelling_the_flush_loop_always_ends_it_after_one_last_flush(loop_kind: str) -> None:
    """Cancelled at moments spread over the flush interval, with and without a wake-up in the
    same turn. Python 3.11's ``wait_for`` returned normally when its awaitable had finished by
    the time the cancellation reached it, so the loop went on for ever and the server's
    shutdown waited for it (seen with the audit log's wake-up on a full batch)."""

    async def trial(delay_s: float, woken: bool) -> int:
        flushes = 0
        wake = asyncio.Event()

        async def flush() -> int:
            nonlocal flushes
            flushes += 1
            return 0

        task = asyncio.create_task(flush_periodically(flush, wake, 0.002, "test"))
        await asyncio.sleep(delay_s)
        if woken:
            wake.set()  # a full batch wakes the loop as shutdown cancels it
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert task in done, f"the loop ignored a cancellation {delay_s * 1000:.2f} ms in"
        return flushes

    async def main() -> None:
        for n in range(60):
            for woken in (False, True):
                flushes = await trial(0.0001 * n, woken)  # 0 to 6 ms: three intervals
                assert flushes >= 1  # at least the flush on the way out

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def test_a_wake_flushes_at_once_and_failures_are_retried() -> None:
    async def main() -> list[str]:
        calls: list[str] = []
        wake = asyncio.Event()

        async def flush() -> int:
            calls.append("flush")
            if len(calls) == 1:
                raise RuntimeError("storage away")
            return 1

        task = asyncio.create_task(flush_periodically(flush, wake, 60.0, "test"))
        await asyncio.sleep(0)
        wake.set()  # long before the 60-s interval
        for _ in range(100):
            await asyncio.sleep(0.001)
            if calls:
                break
        wake.set()
        for _ in range(100):
            await asyncio.sleep(0.001)
            if len(calls) >= 2:
                break
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        assert task.done()
        return calls

    assert asyncio.run(main()) == ["flush", "flush", "flush"]  # failed, retried, last
