"""The exceptions of lark-events, each knowing the HTTP status it maps to.

::

    LarkEventsError
     ├── ConfigurationError          raised when a Dispatcher is built (500 if met while serving)
     ├── AbandonedAtShutdown         never raised: given to on_give_up for work cut off by shutdown
     └── RequestError                 a request the platform (or someone else) got wrong
          ├── BadRequest              400: not JSON, not an object, bad base64 or padding, empty
          │    └── DecryptionError    400: the ciphertext does not decrypt with any key
          ├── AuthenticationError     401: signature, token or timestamp wrong or missing
          ├── MethodNotAllowed        405
          └── PayloadTooLarge         413

``public_message`` is the only text that ever reaches a client: short, fixed, and free of
input, keys and exception text.
"""

from __future__ import annotations

__all__ = [
    "AbandonedAtShutdown",
    "AuthenticationError",
    "BadRequest",
    "ConfigurationError",
    "DecryptionError",
    "LarkEventsError",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "RequestError",
]


class LarkEventsError(Exception):
    """Root of every exception raised by lark-events."""

    status: int = 500
    public_message: str = "internal error"


class ConfigurationError(LarkEventsError):
    """The dispatcher is configured in a way that cannot work."""


class AbandonedAtShutdown(LarkEventsError):
    """Passed to ``on_give_up`` for an acknowledged event whose deferred handler did not run, or
    had not finished, when the process stopped; ``started`` tells which."""

    def __init__(self, started: bool) -> None:
        self.started = started
        super().__init__("still running at shutdown" if started else "not started at shutdown")


class RequestError(LarkEventsError):
    """A request that cannot be accepted; ``status`` is 4xx."""

    status = 400
    public_message = "bad request"

    def __init__(self, public_message: str | None = None) -> None:
        if public_message is not None:
            self.public_message = public_message
        super().__init__(self.public_message)


class BadRequest(RequestError):
    """400: the body is not a well-formed Lark request."""


class DecryptionError(BadRequest):
    """400: the ``encrypt`` value does not decrypt (bad base64, length or padding, or wrong key)."""

    public_message = "cannot decrypt the body"


class AuthenticationError(RequestError):
    """401: a signature, verification token or timestamp check failed."""

    status = 401
    public_message = "authentication failed"


class MethodNotAllowed(RequestError):
    """405: only POST is accepted."""

    status = 405
    public_message = "method not allowed"


class PayloadTooLarge(RequestError):
    """413: the body is larger than the configured limit."""

    status = 413
    public_message = "request body too large"
