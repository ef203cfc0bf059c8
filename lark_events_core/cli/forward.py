"""``lark-events forward``: real events from the long connection, POSTed to a local webhook.

Like ``stripe listen --forward-to``: the command opens the app's long connection, and every event
or callback it receives is encrypted and signed exactly as the platform does for webhooks and
POSTed to ``--url`` (legacy card callbacks to ``--card-url``). The webhook's answer becomes the
acknowledgement: 200 acknowledges (a callback's body goes back as its result, so toasts and card
updates reach the user), anything else asks the platform to redeliver. A callback answered with
an empty 200 is acknowledged with ``{}`` and reported, since its handler evidently did not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._json import dumps
from .._log import safe
from .._secrets import Secret
from ..envelope import classify, parse_object
from ..errors import RequestError
from ..events.base import Kind
from ..testing.requests import SignedRequest, sign_event, sign_legacy_card
from ._errors import CliError, UsageError, need_aiohttp
from ._http import check_url
from ._options import DEFAULT_URL, DeprecatedAlias, add_secret_options

if TYPE_CHECKING:
    import aiohttp

    from ..longconn.delivery import Delivery, Reply

__all__ = ["ForwardOptions", "WebhookForwarder", "forward", "register", "run"]

logger = logging.getLogger("lark_events.forward")

FEISHU_DOMAIN = "https://open.feishu.cn"


@dataclass(frozen=True)
class ForwardOptions:
    """Where to forward, and the app's credentials and webhook secrets."""

    to: str
    app_id: str
    app_secret: Secret
    card_to: str | None = None
    domain: str = FEISHU_DOMAIN
    encrypt_key: Secret | None = None
    verification_token: Secret | None = None
    timeout: float = 3.0
    #: ``[HOST:]PORT`` of a web inspector recording every exchange (``None``: no inspector).
    inspect: str | None = None


#: Called after each forward: URL, request as sent, status (``None``: no answer), answer body,
#: latency in ms, and why there was no answer.
ExchangeHook = Callable[[str, SignedRequest, "int | None", bytes, float, "str | None"], None]


def register(subparsers: Any) -> None:
    """Add the ``forward`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "forward",
        help="receive real events over the long connection and POST them to a local webhook",
        description="Open the app's long connection and forward every event and callback to a "
        "local webhook URL, encrypted and signed like the platform; the webhook's answer "
        "(a callback's body included) is relayed back as the acknowledgement. Secrets default "
        "to the environment, so they need not appear in the process list.",
    )
    parser.add_argument(
        "--url",
        "-u",
        dest="to",
        metavar="URL",
        help=f"the webhook's event URL (default: {DEFAULT_URL})",
    )
    parser.add_argument(
        "--card-url", dest="card_to", metavar="URL", help="the legacy card callback URL"
    )
    parser.add_argument("--to", dest="to", metavar="URL", action=DeprecatedAlias, new="--url")
    parser.add_argument(
        "--card-to", dest="card_to", metavar="URL", action=DeprecatedAlias, new="--card-url"
    )
    parser.add_argument("--app-id", metavar="ID", help="the app's App ID (default: $LARK_APP_ID)")
    parser.add_argument(
        "--app-secret", metavar="SECRET", help="the app's App Secret (default: $LARK_APP_SECRET)"
    )
    parser.add_argument(
        "--domain",
        metavar="URL",
        help=f"the open platform (default: $LARK_DOMAIN or {FEISHU_DOMAIN}; "
        "Lark: https://open.larksuite.com)",
    )
    add_secret_options(parser)
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for the webhook (default 3)"
    )
    parser.add_argument(
        "--inspect",
        metavar="[HOST:]PORT",
        help="also serve a web inspector of every exchange (see lark-events inspect)",
    )
    parser.set_defaults(func=run)


def _env_or(value: str | None, name: str, environ: Mapping[str, str]) -> str | None:
    return value if value is not None else (environ.get(name) or None)


def options_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ForwardOptions:
    """Validate the arguments (and their environment defaults) into options."""
    env = os.environ if environ is None else environ
    app_id = _env_or(args.app_id, "LARK_APP_ID", env)
    app_secret = _env_or(args.app_secret, "LARK_APP_SECRET", env)
    if not app_id or not app_secret:
        raise CliError(
            "an App ID and App Secret are needed to open the long connection",
            "set LARK_APP_ID and LARK_APP_SECRET (or pass --app-id / --app-secret)",
        )
    to: str = args.to or DEFAULT_URL
    card_to: str | None = args.card_to
    for option, url in (("--url", to), ("--card-url", card_to)):
        if url is not None:
            check_url(url, option)
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    key = _env_or(args.encrypt_key, "LARK_ENCRYPT_KEY", env)
    token = _env_or(args.token, "LARK_VERIFICATION_TOKEN", env)
    inspect: str | None = getattr(args, "inspect", None)
    if inspect is not None:
        from .inspect import bind_address

        bind_address(inspect)
    return ForwardOptions(
        to=to,
        card_to=card_to,
        app_id=app_id,
        app_secret=Secret(app_secret),
        domain=_env_or(args.domain, "LARK_DOMAIN", env) or FEISHU_DOMAIN,
        encrypt_key=Secret(key) if key else None,
        verification_token=Secret(token) if token else None,
        timeout=args.timeout,
        inspect=inspect,
    )


def run(args: argparse.Namespace) -> int:
    """The command: forward until Ctrl-C or SIGTERM."""
    need_aiohttp()
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        raise CliError(
            "forward needs protobuf, which is not installed", "pip install 'lark-events[longconn]'"
        ) from None
    options = options_from_args(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from ..longconn.errors import StopError

    try:
        asyncio.run(forward(options))
    except StopError as exc:
        raise CliError(str(exc), "check the App ID, App Secret and --domain") from None
    except KeyboardInterrupt:
        pass
    return 0


class WebhookForwarder:
    """A long-connection target that POSTs each delivery to the local webhook."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        options: ForwardOptions,
        on_exchange: ExchangeHook | None = None,
    ) -> None:
        self.session = session
        self.options = options
        self.on_exchange = on_exchange

    def _observe(
        self,
        url: str,
        request: SignedRequest,
        headers: dict[str, str],
        started: float,
        status: int | None = None,
        answer: bytes = b"",
        error: str | None = None,
    ) -> None:
        if self.on_exchange is not None:
            sent = SignedRequest(request.body, headers, card=request.card)
            elapsed = (time.monotonic() - started) * 1000
            self.on_exchange(url, sent, status, answer, elapsed, error)

    def _request(self, delivery: Delivery) -> tuple[str, SignedRequest, bool]:
        """The URL, the signed request and whether the delivery is a callback."""
        opts = self.options
        body: bytes = delivery.payload
        try:
            payload = parse_object(body)
            envelope = classify(payload, card_endpoint=delivery.frame_type == "card")
        except RequestError:
            # Not a body we understand: forward it untouched and let the webhook judge it.
            return opts.to, self._sign_event(body), delivery.frame_type == "card"
        callback = envelope.kind.is_callback or delivery.frame_type == "card"
        if envelope.kind is Kind.LEGACY_CARD:
            if opts.card_to is None:
                raise CliError("a legacy card callback arrived but --card-url is not set")
            signed = sign_legacy_card(body, verification_token=opts.verification_token)
            return opts.card_to, signed, True
        if opts.verification_token is not None:
            token = opts.verification_token.reveal()
            # Webhooks carry the verification token; the long connection may omit it.
            if envelope.kind in (Kind.EVENT_V1, Kind.URL_VERIFICATION):
                payload["token"] = token
            else:
                payload["header"] = {**payload["header"], "token": token}
            body = dumps(payload)
        return opts.to, self._sign_event(body), callback

    def _sign_event(self, body: bytes) -> SignedRequest:
        return sign_event(body, encrypt_key=self.options.encrypt_key)

    async def __call__(self, delivery: Delivery) -> Reply:
        import aiohttp

        from ..longconn.delivery import FAILED, OK, Reply

        started = time.monotonic()
        try:
            url, request, callback = self._request(delivery)
        except CliError as exc:
            logger.error("%s (message_id=%s)", exc.message, safe(delivery.message_id))
            return FAILED
        headers = dict(request.headers)
        if delivery.trace_id:
            headers["X-Request-Id"] = delivery.trace_id
        try:
            async with self.session.post(
                url,
                data=request.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.options.timeout),
                allow_redirects=False,
            ) as resp:
                status = resp.status
                answer = await resp.read()
        except asyncio.TimeoutError:
            logger.warning("webhook gave no answer within %gs; nack", self.options.timeout)
            self._observe(url, request, headers, started, error="no answer in time")
            return FAILED
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("webhook unreachable (%s); nack", type(exc).__name__)
            self._observe(url, request, headers, started, error="webhook unreachable")
            return FAILED
        self._observe(url, request, headers, started, status, answer)
        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "forwarded %s message_id=%s -> %s in %.0f ms",
            safe(delivery.frame_type),
            safe(delivery.message_id),
            status,
            elapsed,
        )
        if status != 200:
            return FAILED
        if not callback:
            return OK
        if not answer.strip():
            # The platform would show the user nothing; say so, or a handler that never ran
            # looks like one that answered {}.
            logger.warning(
                "the webhook answered 200 with an empty body to a %s callback "
                "(message_id=%s): its handler returned nothing or never ran; acknowledged with {}",
                "legacy card" if url == self.options.card_to else "v2",
                delivery.message_id,
            )
            return Reply(200, b"{}")
        return Reply(200, answer)


async def forward(options: ForwardOptions) -> None:
    """Forward until cancelled, SIGINT or SIGTERM; raises a ``StopError`` the client met."""
    import aiohttp

    from ..longconn.client import LongConnectionClient

    inspector = None
    if options.inspect is not None:
        from .inspect import inspector_for_forward

        inspector = await inspector_for_forward(options)
    async with aiohttp.ClientSession() as session:
        hook = inspector[1].forwarded if inspector is not None else None
        client = LongConnectionClient(
            WebhookForwarder(session, options, hook),
            app_id=options.app_id,
            app_secret=options.app_secret,
            domain=options.domain,
            on_connected=lambda: print(
                f"forwarding events of {options.app_id} to {options.to} (Ctrl-C to stop)",
                file=sys.stderr,
            ),
        )
        loop = asyncio.get_running_loop()
        stopper: list[asyncio.Task[None]] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(
                    sig, lambda: stopper.append(loop.create_task(client.stop()))
                )
        try:
            await client.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            if stopper:
                await asyncio.wait(stopper)
            if inspector is not None:
                await inspector[0].close()
                inspector[1].store.close()
