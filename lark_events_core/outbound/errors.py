"""The exceptions of the outbound client (calls to the Lark / Feishu Open API).

::

    LarkEventsError
     └── OutboundError                   anything that stopped an Open API call
          ├── TransportError             timeout, connection refused, reset: no API answer
          ├── AppTicketMissing           a store app has no ``app_ticket`` yet
          └── OpenAPIError               the API answered with a non-zero ``code``
               ├── TokenRequestError     a token endpoint refused (wrong app secret, bad ticket)
               ├── InvalidTokenError     an access token was refused again after one refresh
               ├── RateLimitError        HTTP 429 / a frequency-limit code, retries exhausted
               └── ServerError           HTTP 5xx, or a body that is not the API's JSON

Every :class:`OpenAPIError` carries the API's ``code`` and ``msg``, the HTTP status and the
``log_id`` (the ``X-Tt-Logid`` header, what Lark support asks for). No exception text ever holds an
app secret, an app ticket or an access token.
"""

from __future__ import annotations

from ..errors import LarkEventsError

__all__ = [
    "AppTicketMissing",
    "InvalidTokenError",
    "OpenAPIError",
    "OutboundError",
    "RateLimitError",
    "ServerError",
    "TokenRequestError",
    "TransportError",
]

#: The access token was refused: invalid (99991663 tenant, 99991664 app, 99991665 tenant code)
#: or expired (99991677). A fresh token fixes these, so they are refreshed and retried once.
#: 99991661 (no token sent), 99991668 (user tokens) and 99991671 (malformed) are not: a new
#: tenant token would not change them.
INVALID_TOKEN_CODES = frozenset({99991663, 99991664, 99991665, 99991677})

#: Frequency limits: the platform-wide 99991400 and the IM send limits 230020 / 11232.
RATE_LIMIT_CODES = frozenset({99991400, 230020, 11232})


class OutboundError(LarkEventsError):
    """Root of the errors raised by the outbound client."""


class TransportError(OutboundError):
    """The call got no answer: timeout, refused or reset connection, DNS failure."""


class AppTicketMissing(OutboundError):
    """A store app needs the ``app_ticket`` event before it can get tokens; none arrived in time."""


class OpenAPIError(OutboundError):
    """The Open API answered with a non-zero ``code`` (or a non-2xx status)."""

    def __init__(
        self,
        code: int,
        msg: str,
        *,
        http_status: int | None = None,
        log_id: str | None = None,
        path: str | None = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.log_id = log_id
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" on {self.path}" if self.path else ""
        status = f", http {self.http_status}" if self.http_status is not None else ""
        log_id = self.log_id or "-"
        return f"Open API error {self.code}{where}: {self.msg} (log_id={log_id}{status})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, msg={self.msg!r}, "
            f"http_status={self.http_status!r}, log_id={self.log_id!r})"
        )


class TokenRequestError(OpenAPIError):
    """A token endpoint refused the app's credentials or its ``app_ticket``."""


class InvalidTokenError(OpenAPIError):
    """The API refused an access token even after the token was refreshed once."""


class RateLimitError(OpenAPIError):
    """Still rate limited after the configured number of retries."""


class ServerError(OpenAPIError):
    """HTTP 5xx, or an answer that is not the API's JSON envelope."""
