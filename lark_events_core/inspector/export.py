"""An exchange as something to keep: a ``lark-events send`` command line or a pytest test.

Neither holds a secret: both read the Encrypt Key and the token from the app's environment
variables (``LARK_ENCRYPT_KEY``, ``LARK_VERIFICATION_TOKEN``), as the commands do.
"""

from __future__ import annotations

import json
import pprint
import re
import shlex
from typing import Any

from .secrets import restore_token
from .store import Exchange

__all__ = ["as_pytest", "as_send_command"]


def _body(exchange: Exchange) -> dict[str, Any]:
    if exchange.payload is None:
        raise ValueError("this exchange's body could not be decrypted, so it cannot be exported")
    # Without the token field: ``send --file`` and the test put the configured one in.
    return restore_token(exchange.payload, None)


def as_send_command(exchange: Exchange) -> str:
    """A shell command that sends the same event (same id) with ``lark-events send``."""
    body = json.dumps(_body(exchange), ensure_ascii=False, indent=2)
    marker = "JSON"
    while marker in body:
        marker += "_"
    return (
        f"lark-events send --url {shlex.quote(exchange.url)} --file - <<'{marker}'\n"
        f"{body}\n{marker}\n"
    )


def _name(exchange: Exchange) -> str:
    words = re.sub(r"[^0-9a-zA-Z]+", "_", exchange.event_type).strip("_").lower() or "event"
    return f"test_{words}_exchange_{exchange.id}_is_answered_as_recorded"


def _literal(value: Any, indent: int = 0) -> str:
    """``value`` as a Python literal, wrapped for a 100-column file."""
    text = pprint.pformat(value, width=96 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def as_pytest(exchange: Exchange) -> str:
    """A pytest module replaying the exchange with the project's ``LarkSimulator``.

    It posts the recorded event (fresh event id, so a deduplicating app handles it) to the
    recorded URL and asserts the status, and for a callback the body, the app answered then.
    """
    from urllib.parse import urlsplit

    body = _body(exchange)
    parts = urlsplit(exchange.url)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path or "/"
    answer = exchange.answer_json() if exchange.is_callback else None
    lines = [
        f'"""Exported by the lark-events inspector from exchange #{exchange.id}."""',
        "",
        "from __future__ import annotations",
        "",
        "import json",
        "import os",
        "import uuid",
        "",
        "from lark_events_core.testing import LarkSimulator",
        "",
        f"BASE_URL = os.environ.get('LARK_APP_URL', {base!r})",
        f"PATH = {path!r}",
        "BODY = " + _literal(body),
        "",
        "",
        f"def {_name(exchange)}() -> None:",
        "    token = os.environ.get('LARK_VERIFICATION_TOKEN')",
        "    sim = LarkSimulator(os.environ.get('LARK_ENCRYPT_KEY'), token)",
        "    body = json.loads(json.dumps(BODY))",
        "    header = body.get('header')",
        "    if isinstance(header, dict):  # v2: a fresh id, and the app's token",
        "        header['event_id'] = uuid.uuid4().hex",
        "        if token:",
        "            header['token'] = token",
        "    elif 'action' not in body:  # v1",
        "        body['uuid'] = uuid.uuid4().hex",
        "        if token:",
        "            body['token'] = token",
        "    response = sim.send(BASE_URL, body, path=PATH)",
        f"    assert response.status == {exchange.status!r}",
    ]
    if answer is not None:
        lines.append("    assert response.json() == " + _literal(answer, indent=4))
    return "\n".join(lines) + "\n"
