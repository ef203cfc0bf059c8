"""``lark-events inspect``: a local web page to compose, send, replay and inspect events.

The simulator is the only source here (``forward --inspect`` adds the real events of the long
connection). Every exchange is kept in a bounded SQLite history; see docs/inspector.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._secrets import Secret
from ._errors import CliError, need_aiohttp
from ._http import check_url
from ._options import add_secret_options, encrypt_key, verification_token

if TYPE_CHECKING:
    from ..inspector import InspectorServer, Sender
    from .forward import ForwardOptions

__all__ = [
    "DEFAULT_PORT",
    "default_card_url",
    "inspector_for_forward",
    "register",
    "run",
    "store_path",
]

DEFAULT_PORT = 4041
DEFAULT_URL = "http://127.0.0.1:8000/webhook/event"
DB_ENV = "LARK_EVENTS_INSPECTOR_DB"


def register(subparsers: Any) -> None:
    """Add the ``inspect`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="a local web page to compose, send, replay and inspect events",
        description="Serve a local page listing every event sent to the app and its answer, "
        "live; compose any template, replay (same or new event id, or with the platform's "
        "retry schedule) and export exchanges. Bound to 127.0.0.1 unless --host says "
        "otherwise (then the printed URL carries an access token).",
    )
    parser.add_argument(
        "--to",
        "--url",
        dest="to",
        default=DEFAULT_URL,
        metavar="URL",
        help=f"the app's event URL (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--card-to",
        "--card-url",
        dest="card_to",
        metavar="URL",
        help="the legacy card URL (default: --to with its final /event replaced by /card)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the page's port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="the page's address (default 127.0.0.1)"
    )
    parser.add_argument(
        "--db", metavar="PATH", help=f"the history file (default: ${DB_ENV} or the cache dir)"
    )
    parser.add_argument(
        "--max-exchanges", type=int, default=2000, help="history size (default 2000)"
    )
    parser.add_argument("--app-id", default="cli_test_app", help="header.app_id of composed events")
    parser.add_argument("--tenant-key", default="tenant_test", help="header.tenant_key")
    add_secret_options(parser)
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the app (default 10)"
    )
    parser.set_defaults(func=run)


def default_card_url(url: str) -> str | None:
    """The card URL beside an event URL ending in ``/event`` (the samples' layout), else none."""
    return url[: -len("event")] + "card" if url.endswith("/event") else None


def store_path(value: str | None) -> Path:
    """The history file: ``value``, else ``$LARK_EVENTS_INSPECTOR_DB``, else the cache dir."""
    from ..inspector import default_path

    chosen = value or os.environ.get(DB_ENV)
    return Path(chosen) if chosen else default_path()


def _open_store(path: Path, max_exchanges: int) -> Any:
    import sqlite3

    from ..inspector import ExchangeStore

    if max_exchanges < 1:
        raise CliError("--max-exchanges must be at least 1")
    try:
        return ExchangeStore(path, max_exchanges=max_exchanges)
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"cannot open the history file {path}: {exc}", "pass --db PATH") from None


def run(args: argparse.Namespace) -> int:
    """Run ``inspect`` until Ctrl-C or SIGTERM."""
    need_aiohttp()
    from ..inspector import InspectorServer, Sender

    url = check_url(args.to)
    card_url = check_url(args.card_to) if args.card_to else default_card_url(url)
    if not 0 <= args.port <= 65535:
        raise CliError(f"not a port: {args.port}")
    if args.timeout <= 0:
        raise CliError("--timeout must be positive")
    key, token = encrypt_key(args), verification_token(args)
    store = _open_store(store_path(args.db), args.max_exchanges)
    sender = Sender(
        store,
        url=url,
        card_url=card_url,
        encrypt_key=Secret(key) if key else None,
        verification_token=Secret(token) if token else None,
        timeout=args.timeout,
        app_id=args.app_id,
        tenant_key=args.tenant_key,
    )
    server = InspectorServer(sender, host=args.host, port=args.port)
    try:
        asyncio.run(_serve(server, f"sending to {url}"))
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


async def _serve(server: InspectorServer, what: str) -> None:
    try:
        await server.start()
    except OSError as exc:
        await server.close()
        raise CliError(
            f"cannot listen on {server.host}:{server.port}: {exc.strerror}", "pick another --port"
        ) from None
    announce(server, what)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def announce(server: InspectorServer, what: str) -> None:
    """Print where the page is (with its access token when it needs one)."""
    print(f"inspector on {server.url} ({what}; Ctrl-C to stop)", file=sys.stderr, flush=True)
    if server.access_token:
        print(
            "  bound beyond this machine: the URL's access token is needed to open the page",
            file=sys.stderr,
            flush=True,
        )


def bind_address(value: str) -> tuple[str, int]:
    """``forward --inspect``'s ``[HOST:]PORT``, or a :class:`CliError`."""
    from ..inspector import parse_bind

    try:
        return parse_bind(value)
    except ValueError as exc:
        raise CliError(str(exc), "write --inspect 4041 or --inspect 127.0.0.1:4041") from None


async def inspector_for_forward(options: ForwardOptions) -> tuple[InspectorServer, Sender]:
    """The inspector ``forward --inspect`` runs beside the long connection, started."""
    from ..inspector import InspectorServer, Sender

    host, port = bind_address(options.inspect or "")
    store = _open_store(store_path(None), 2000)
    sender = Sender(
        store,
        url=options.to,
        card_url=options.card_to,
        encrypt_key=options.encrypt_key,
        verification_token=options.verification_token,
        timeout=options.timeout,
        app_id=options.app_id,
    )
    server = InspectorServer(sender, host=host, port=port)
    try:
        await server.start()
    except OSError as exc:
        await server.close()
        store.close()
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "pick another port"
        ) from None
    announce(server, f"recording what is forwarded to {options.to}")
    return server, sender
