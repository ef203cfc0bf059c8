"""``lark-events send``: deliver a realistic, encrypted and signed event, as the platform does.

One event by default; ``--retry`` replays the platform's retry schedule; ``--count`` and
``--concurrency`` turn it into a load test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..testing import EVENT_TYPES, LarkSimulator, SignedRequest
from ..testing.templates import parse_assignment, template_kind
from ._errors import CliError, UsageError, need_aiohttp
from ._http import check_url, explain, new_session, note, post
from ._options import (
    DEFAULT_CARD_URL,
    DEFAULT_URL,
    add_secret_options,
    encrypt_key,
    verification_token,
)

__all__ = ["Delivered", "register", "run"]

#: What a request carries: an event (only the status matters), a v2 callback or a legacy card
#: callback (their answer's body is what the user sees).
Delivered = Literal["event", "callback", "legacy_card"]


def register(subparsers: Any) -> None:
    """Add the ``send`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send",
        help="send a signed, encrypted event to an app (once, with retries, or as a load test)",
        description="Build a realistic event, wrap, encrypt and sign it as the Lark platform "
        "does, POST it and show the answer. --list prints the types with built-in templates.",
    )
    parser.add_argument(
        "event_type",
        nargs="?",
        default="im.message.receive_v1",
        metavar="TYPE",
        help="event type (default: im.message.receive_v1); any other v2 type gets an empty body "
        "(the URL goes in --url)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the types with built-in templates and exit"
    )
    parser.add_argument(
        "--url",
        "-u",
        help=f"the request URL (default: {DEFAULT_URL}, or {DEFAULT_CARD_URL} for legacy_card)",
    )
    parser.add_argument(
        "--file", "-f", help="send this JSON body instead of a template ('-': stdin)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a field by dotted path, e.g. event.message.chat_type=group (repeatable)",
    )
    parser.add_argument("--text", help="the message text (im.message.receive_v1 and v1 message)")
    parser.add_argument("--event-id", help="use this event_id (v1: uuid) instead of a fresh one")
    parser.add_argument("--tenant-key", default="tenant_test", help="header.tenant_key")
    parser.add_argument("--app-id", default="cli_test_app", help="header.app_id")
    add_secret_options(parser)
    parser.add_argument("--plain", action="store_true", help="do not encrypt (still signed)")
    parser.add_argument("--no-sign", action="store_true", help="send without signature headers")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="print the request, do not send")
    retry = parser.add_argument_group("retry replay")
    retry.add_argument(
        "--retry",
        action="store_true",
        help="resend like the platform on a non-200 or an answer slower than 3 s "
        "(after 15 s, 5 min, 1 h, 6 h, compressed by --speedup)",
    )
    retry.add_argument(
        "--speedup",
        type=float,
        default=3600.0,
        help="divide the retry schedule by this (default 3600: 15 s becomes 4 ms)",
    )
    retry.add_argument(
        "--deadline", type=float, default=3.0, help="seconds the platform waits (default 3)"
    )
    load = parser.add_argument_group("load mode")
    load.add_argument("--count", "-n", type=int, default=1, help="send N events (fresh ids)")
    load.add_argument(
        "--concurrency", "-c", type=int, default=10, help="requests in flight (default 10)"
    )
    parser.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in args.set:
        try:
            path, value = parse_assignment(item)
        except ValueError as exc:
            raise UsageError(str(exc), "write --set event.message.chat_type=group") from None
        overrides[path] = value
    if args.text is not None:
        if args.event_type == "message":
            overrides["event.text"] = args.text
            overrides["event.text_without_at_bot"] = args.text
        else:
            # compact, as the platform writes message content
            overrides["event.message.content"] = json.dumps(
                {"text": args.text}, ensure_ascii=False, separators=(",", ":")
            )
    return overrides


def _file_payload(path: str) -> dict[str, Any]:
    import sys

    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    try:
        payload = json.loads(raw)
    except ValueError:
        raise CliError(
            f"{path} is not valid JSON", "give a JSON object, as the platform sends"
        ) from None
    if not isinstance(payload, dict):
        raise CliError(f"{path} is not a JSON object", "give a JSON object")
    return payload


def _fill_file_payload(payload: dict[str, Any], token: str | None, event_id: str | None) -> None:
    """Give a captured or hand-written body the configured token (when it has none) and id."""
    header = payload.get("header")
    if isinstance(header, dict):  # v2
        if token is not None:
            header.setdefault("token", token)
        if event_id is not None:
            header["event_id"] = event_id
    elif "action" not in payload:  # v1 or URL verification (legacy cards carry a card token)
        if token is not None:
            payload.setdefault("token", token)
        if event_id is not None and "uuid" in payload:
            payload["uuid"] = event_id


def _is_callback(payload: dict[str, Any]) -> bool:
    """Whether a v2 body is a callback (its answer's body matters), from its event type."""
    header = payload.get("header")
    event_type = header.get("event_type") if isinstance(header, dict) else None
    return isinstance(event_type, str) and template_kind(event_type) == "callback"


def request_factory(
    args: argparse.Namespace, *, same_event: bool = False
) -> tuple[Callable[[], SignedRequest], Delivered]:
    """A function building one request per call, and what kind of body the requests carry.

    Each call encrypts and signs afresh (new IV, timestamp, nonce). The event itself is new on
    every call (fresh ids) unless ``same_event`` (retries) or a ``--file`` body is used.
    """
    sim = LarkSimulator(
        encrypt_key(args),
        verification_token(args),
        app_id=args.app_id,
        tenant_key=args.tenant_key,
        encrypt=not args.plain,
    )
    overrides = _overrides(args)
    sign = not args.no_sign
    kind: Delivered
    if args.file:
        from ..testing.templates import set_path

        fixed = _file_payload(args.file)
        card = "action" in fixed and "schema" not in fixed and "type" not in fixed
        kind = "legacy_card" if card else "callback" if _is_callback(fixed) else "event"
        _fill_file_payload(fixed, verification_token(args), args.event_id)
        for path, value in overrides.items():
            set_path(fixed, path, value)
    else:
        event_type: str = args.event_type
        template = template_kind(event_type)
        kind = (
            "legacy_card"
            if template == "legacy_card"
            else ("callback" if template == "callback" else "event")
        )
        if not same_event:

            def fresh() -> SignedRequest:
                return sim.request(event_type, event_id=args.event_id, set=overrides, sign=sign)

            return fresh, kind
        fixed = sim.payload(event_type, event_id=args.event_id, set=overrides)

    def again() -> SignedRequest:
        return sim.request(fixed, sign=sign)

    return again, kind


def _describe(args: argparse.Namespace, request: SignedRequest, kind: Delivered) -> str:
    key = encrypt_key(args)
    if kind == "legacy_card":
        how = "signed with SHA-1" if "X-Lark-Signature" in request.headers else "unsigned"
    else:
        encrypted = key is not None and not args.plain
        signed = "X-Lark-Signature" in request.headers
        how = ", ".join(
            [
                "encrypted" if encrypted else "plain",
                "signed" if signed else "unsigned",
            ]
        )
    what = "JSON file" if args.file else args.event_type
    return f"{what} ({how})"


def _check_args(args: argparse.Namespace) -> None:
    if "://" in args.event_type:
        raise UsageError(
            f"{args.event_type!r} is a URL, not an event type",
            f"pass the URL with --url: lark-events send --url {args.event_type} [TYPE]",
        )
    if args.count < 1 or args.concurrency < 1:
        raise UsageError("--count and --concurrency must be at least 1")
    if args.timeout <= 0 or args.deadline <= 0 or args.speedup <= 0:
        raise UsageError("--timeout, --deadline and --speedup must be positive")
    if args.count > 1 and args.retry:
        raise UsageError("--retry and --count cannot be combined", "use one or the other")
    if args.count > 1 and args.event_id:
        raise UsageError(
            "--event-id with --count would send one event N times",
            "drop --event-id to send fresh events",
        )


def run(args: argparse.Namespace) -> int:
    """Run ``send``."""
    if args.list:
        print("\n".join(sorted(EVENT_TYPES)))
        return 0
    _check_args(args)
    factory, kind = request_factory(args)
    url = check_url(args.url or (DEFAULT_CARD_URL if kind == "legacy_card" else DEFAULT_URL))
    if args.dry_run:
        request = factory()
        print(f"POST {url}")
        for name, value in request.headers.items():
            print(f"{name}: {value}")
        print()
        print(request.body.decode("utf-8", "replace"))
        return 0
    need_aiohttp()
    if args.count > 1:
        from ._load import run_load

        return asyncio.run(run_load(url, factory, args.count, args.concurrency, args.timeout))
    if args.retry:
        from ._retry import replay

        factory, kind = request_factory(args, same_event=True)
        return asyncio.run(replay(url, factory, args.deadline, args.speedup))
    return asyncio.run(_send_once(url, factory, kind, args))


async def _send_once(
    url: str, factory: Callable[[], SignedRequest], kind: Delivered, args: argparse.Namespace
) -> int:
    request = factory()
    print(f"POST {url}")
    print(f"  {_describe(args, request, kind)}  event_id={request.event_id or '-'}")
    async with new_session(1) as session:
        outcome = await post(session, url, request, args.timeout)
    if outcome.status is not None:
        print(f"\u2190 {outcome.status} in {outcome.elapsed * 1000:.1f} ms")
        print(f"  {outcome.body_text() or '(empty body)'}")
        if outcome.elapsed > 3.0:
            print("  warning: slower than 3 s; the platform would count this as failed and retry")
        warning = note(outcome, callback=kind != "event")
        if warning is not None:
            print(f"  warning: {warning}")
    problem = explain(outcome, url, callback=kind == "callback", legacy_card=kind == "legacy_card")
    if problem is not None:
        raise CliError(*problem)
    return 0
