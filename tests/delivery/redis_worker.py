"""A separate OS process receiving events through a dispatcher with a RedisDedupStore.

``python -m tests.delivery.redis_worker REQUEST_FILE`` (a JSON list of requests, handled in order)
with ``REDIS_URL``, ``LARK_TEST_PREFIX``, ``LARK_TEST_START_AT`` (epoch seconds to wait for, the
last moment spinning, so all processes hit Redis together), ``LARK_TEST_CLAIM_TTL`` and
``LARK_TEST_HANDLER_SLEEP``. The handler appends its event id to ``{prefix}runs`` and marks
``{prefix}started``; the process prints the response statuses.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import redis

from lark_events_core import Dispatcher, Event, Request
from lark_events_core.redis_store import RedisDedupStore

KEY = "delivery-test-encrypt-key"


def main(request_file: str) -> int:
    url = os.environ["REDIS_URL"]
    prefix = os.environ["LARK_TEST_PREFIX"]
    sleep = float(os.environ.get("LARK_TEST_HANDLER_SLEEP", "0.2"))
    counter = redis.Redis.from_url(url)
    dispatcher = Dispatcher(
        KEY,
        dedup=RedisDedupStore(url, prefix=prefix),
        claim_ttl=float(os.environ.get("LARK_TEST_CLAIM_TTL", "600")),
    )

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:
        counter.rpush(prefix + "runs", event.event_id or "-")
        counter.set(prefix + "started", os.getpid())
        time.sleep(sleep)

    specs = json.loads(Path(request_file).read_text())
    requests = [Request.build("POST", s["headers"], s["body"].encode()) for s in specs]
    start_at = float(os.environ.get("LARK_TEST_START_AT", "0"))
    time.sleep(max(0.0, start_at - time.time() - 0.05))
    while time.time() < start_at:  # spin the last moment: a sleep wakes up too unevenly
        pass
    statuses = [dispatcher.handle(request).status for request in requests]
    print(" ".join(map(str, statuses)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
