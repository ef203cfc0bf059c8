"""Stage benchmark: plaintext → classified event → typed model → ``message.text``, one run.

The decrypted plaintext of a realistic ``im.message.receive_v1`` (the body ``bench_core.py``
sends), taken through:

- the stage: ``decode_plaintext`` (or ``parse_object`` + ``classify`` when it declines), the
  :class:`Event`, ``event.event.message.text``: parse + classify + typed model + ``.text``;
- ours: ``Dispatcher.prepare_plaintext`` (parse, classify, route to the handler, build the
  :class:`Event`) then ``event.event.message.text`` (the typed model and the content's text);
- ours, raw dict: the same with ``event.data["message"]["content"]`` parsed for the text;
- the dict path: ``parse_object`` + ``classify`` + the tolerant builder + ``.text``, what a
  plaintext costs when the one-pass decoding does not take it (and, with orjson and the
  builder, about what every plaintext cost before it);
- the floor: one msgspec decoder pass straight into the models' Structs (an envelope Struct
  holding ``EventHeader`` and ``MessageReceive``), and a second one for the content's text: the
  least a typed decoding can cost.

The variants run in interleaved rounds; each figure is the median round of this thread's CPU
time. Target (issue 16): the stage ≤ 2.5 us. Ratios against the floor and the dict path are printed
last.

    .venv/bin/python benchmarks/bench_typed.py [--requests 20000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import msgspec
from bench_core import ENCRYPT_KEY, TEXT, VERIFICATION_TOKEN, per_request_us, sample_request

from lark_events_core import Dispatcher, Event, HandlerCall, _json, decrypt_event
from lark_events_core.envelope import classify, parse_object
from lark_events_core.events import EventHeader, MessageReceive
from lark_events_core.events._model import _builder


def plaintext() -> bytes:
    """The plaintext of bench_core.py's request (its body decrypted, as compact JSON)."""
    _, body = sample_request()
    return json.dumps(decrypt_event(body, ENCRYPT_KEY)).encode()


def ours(data: bytes, typed: bool) -> Callable[[], Any]:
    """Our dispatcher's plaintext entry (the long connection's, and the webhook's after AES)."""
    dispatcher = Dispatcher(verification_token=VERIFICATION_TOKEN, dedup=False)
    loads = _json.loads

    @dispatcher.on("im.message.receive_v1")
    def handler(event: Event[Any]) -> None:  # never called: the stage stops before dispatch
        pass

    def one() -> Any:
        call = dispatcher.prepare_plaintext(data)
        assert isinstance(call, HandlerCall)
        if typed:
            return call.event.event.message.text
        return loads(call.event.data["message"]["content"])["text"]

    return one


STAGE = "stage: parse+classify+model+text"


def stage(data: bytes) -> Callable[[], Any]:
    """The stage alone: decode and classify, the Event, its typed model, the text."""
    from lark_events_core.envelope import decode_plaintext
    from lark_events_core.events.base import new_event

    def one() -> Any:
        envelope = decode_plaintext(data) or classify(parse_object(data))
        return new_event(envelope, data, None, MessageReceive).event.message.text

    return one


def dict_path(data: bytes) -> Callable[[], Any]:
    """A JSON parse to a dict, classify, the tolerant builder, the text."""
    build = _builder(MessageReceive)

    def one() -> Any:
        payload = parse_object(data)
        classify(payload)
        return build(payload["event"]).message.text

    return one


class _Envelope(msgspec.Struct):
    schema: str | None = None
    header: EventHeader | None = None
    event: MessageReceive | None = None


class _Text(msgspec.Struct):
    text: str | None = None


def floor(data: bytes) -> Callable[[], Any]:
    """The models' Structs in one decoder pass, the text decoded into a Struct too."""
    decode = msgspec.json.Decoder(_Envelope).decode
    text = msgspec.json.Decoder(_Text).decode

    def one() -> Any:
        envelope = decode(data)
        assert envelope.header is not None
        assert envelope.event is not None
        message = envelope.event.message
        assert message is not None
        assert message.content is not None
        return text(message.content).text

    return one


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results, the ratios last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="plaintexts per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args(argv)

    data = plaintext()
    variants: dict[str, Callable[[], Any]] = {}
    try:
        variants[STAGE] = stage(data)
    except ImportError:  # a checkout from before the one-pass decoding (PYTHONPATH=...): A/B
        print("no decode_plaintext here: the stage is left out")
    variants["ours, typed .text"] = ours(data, typed=True)
    variants["ours, raw dict"] = ours(data, typed=False)
    variants["dict path, tolerant builder"] = dict_path(data)
    variants["floor, msgspec Structs"] = floor(data)
    for name, fn in variants.items():
        assert fn() == TEXT, name
    print(f"python {sys.version.split()[0]}, JSON backend {_json.BACKEND}, plaintext {len(data)} B")
    print(f"per plaintext: median of {args.rounds} interleaved rounds x {args.requests}")
    results = per_request_us(variants, args.requests, args.rounds)
    for name, us in results.items():
        print(f"  {name:34s} {us:8.2f} us")
    floor_us = results["floor, msgspec Structs"]
    print("ratios (same run):")
    for name in (STAGE, "ours, typed .text", "dict path, tolerant builder"):
        if name in results:
            print(f"  {name + ' / floor':42s} {results[name] / floor_us:6.2f}x")
    if STAGE in results:
        print(f"  stage: {results[STAGE]:.2f} us (target <= 2.5 us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
