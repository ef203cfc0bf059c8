"""The platform's retry behaviour, replayed with a compressed schedule (PROTOCOL.md §1)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..testing import SignedRequest
from ._errors import CliError
from ._http import Outcome, explain, new_session, post

__all__ = ["RETRY_SCHEDULE", "replay"]

#: Seconds between the first push and each retry: about 15 s, 5 min, 1 h and 6 h.
RETRY_SCHEDULE: tuple[float, ...] = (15.0, 300.0, 3600.0, 6 * 3600.0)


def _human(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _verdict(outcome: Outcome, deadline: float) -> str | None:
    """Why the platform would count this attempt as failed, or ``None`` when it is acknowledged."""
    if outcome.error is not None:
        return outcome.error
    if outcome.status != 200:
        return f"status {outcome.status}"
    if outcome.elapsed > deadline:
        return f"slower than {deadline:g} s"
    return None


async def replay(
    url: str, factory: Callable[[], SignedRequest], deadline: float, speedup: float
) -> int:
    """Send, and resend on failure on the platform's schedule divided by ``speedup``.

    Every attempt carries the same event (same ``event_id``), freshly encrypted and signed, as
    the platform's retries do. Returns 0 once an attempt is acknowledged, 1 when all fail.
    """
    first = factory()
    print(f"POST {url}  event_id={first.event_id or '-'}  (retry replay, schedule / {speedup:g})")
    start = time.monotonic()
    attempts = len(RETRY_SCHEDULE) + 1
    failures: list[str] = []
    async with new_session(1) as session:
        for attempt in range(attempts):
            request = first if attempt == 0 else factory()
            # The platform gives up on an answer after the deadline; wait a little longer so a
            # slow answer is seen (and reported) as slow rather than as silence.
            outcome = await post(session, url, request, deadline + 1.0)
            at = time.monotonic() - start
            status = str(outcome.status) if outcome.status is not None else "---"
            line = (
                f"  attempt {attempt + 1}  +{at:7.3f} s  {status}  {outcome.elapsed * 1000:7.1f} ms"
            )
            problem = _verdict(outcome, deadline)
            if problem is None:
                print(f"{line}  acknowledged  {outcome.body_text(80)}")
                retried = (
                    f" after {attempt} retr{'y' if attempt == 1 else 'ies'}" if attempt else ""
                )
                print(f"delivered on attempt {attempt + 1}{retried}", end="")
                if any("slower" in f for f in failures):
                    print(" (a slow attempt may have run the handler too: deduplicate by event_id)")
                else:
                    print()
                return 0
            failures.append(problem)
            if attempt + 1 < attempts:
                wait = RETRY_SCHEDULE[attempt]
                print(
                    f"{line}  failed: {problem}; the platform retries after {_human(wait)} "
                    f"(here {wait / speedup:.3g} s)"
                )
                await asyncio.sleep(wait / speedup)
            else:
                print(f"{line}  failed: {problem}")
    advice = explain(outcome, url)
    raise CliError(
        f"not delivered: all {attempts} attempts failed ({failures[-1]}); "
        "the platform drops the event after about 7 hours",
        advice[1] if advice else "answer 200 within 3 s; do slow work after answering",
    )
