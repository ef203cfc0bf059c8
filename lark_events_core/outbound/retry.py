"""How long to wait before retrying a rate-limited call: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import ConfigurationError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of rate-limited calls (HTTP 429 or a frequency-limit code).

    Attempt ``n`` (0-based) waits between half and all of ``min(max_delay, base_delay * 2**n)``
    ("equal jitter", so that many workers limited at once do not retry in step). When the API sends
    ``x-ogw-ratelimit-reset`` (seconds until the window resets), that is waited instead, capped
    at ``max_delay``. After ``max_retries`` retries the call fails with
    :class:`~lark_events_core.outbound.errors.RateLimitError`.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("retry delays must be >= 0")

    def delay(self, attempt: int, reset_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if reset_after is not None and reset_after >= 0:
            return min(self.max_delay, reset_after) + random.uniform(0, self.base_delay / 4)
        ceiling = min(self.max_delay, self.base_delay * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
