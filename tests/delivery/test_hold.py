"""MemoryDedupStore.hold/finish/drop: claims by an in-process caller, with no owner to build."""

from __future__ import annotations

import threading

from lark_events_core import MemoryDedupStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fresh(text: str) -> str:
    """An equal string that is not the same object (what a second delivery's key is)."""
    return "".join([text[:1], text[1:]])


def test_a_short_key_is_its_own_token_and_is_claimed_once() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-1")
    assert store.hold(key, 60) is key
    assert store.hold(fresh(key), 60) is None  # a second delivery while it is handled
    assert not store.claim(key, "other", 60)
    store.finish(key, key, 3600)
    assert store.hold(fresh(key), 60) is None  # done
    store.drop(key, key)  # a done key is not a claim: dropping it does nothing
    assert store.hold(fresh(key), 60) is None


def test_drop_frees_the_key_for_a_retry() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-2")
    assert store.hold(key, 60) is key
    store.drop(key, key)
    retry = fresh(key)
    assert store.hold(retry, 60) is retry


def test_an_equal_key_from_another_delivery_is_not_the_owner() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    slow = fresh("lark:cli_app:ev-3")
    assert store.hold(slow, 10) is slow
    clock.now += 11  # the slow handler's claim expired: a retry takes it over
    new = fresh(slow)
    assert store.hold(new, 10) is new
    store.drop(slow, slow)  # equal to the holder's key, not the holder's token
    assert store.hold(fresh(slow), 10) is None
    store.finish(slow, slow, 3600)  # nor can it complete the new claim
    store.drop(new, new)
    assert store.hold(fresh(slow), 10) is not None


def test_tokens_are_compared_by_identity_with_owners_given_by_value() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-4")
    assert store.claim(key, fresh(key), 60)  # an owner equal to the key, given by value
    store.finish(key, key, 3600)  # not the owner's object: the claim stays
    store.drop(key, key)
    assert store.hold(fresh(key), 60) is None
    store.release(key, fresh(key))  # by value, the owner releases it
    assert store.hold(fresh(key), 60) is not None


def test_a_long_or_non_ascii_key_gets_a_token_of_its_own() -> None:
    store = MemoryDedupStore()
    for key in ["lark:cli_app:" + "e" * 100, "lark:cli_app:\N{GRINNING FACE}"]:
        token = store.hold(key, 60)
        assert token is not None
        assert token != key
        assert store.hold(fresh(key), 60) is None
        store.drop(key, fresh(token))  # an equal token is not this claim's
        assert store.hold(fresh(key), 60) is None
        store.drop(key, token)
        token = store.hold(fresh(key), 60)
        assert token is not None
        store.finish(key, token, 3600)
        assert store.hold(fresh(key), 60) is None
        assert not store.claim(key, "other", 60)


def test_a_claim_rotated_into_the_previous_generation_is_finished_there() -> None:
    store = MemoryDedupStore(max_entries=4)  # rotates every 2 new keys
    key = fresh("lark:cli_app:held")
    assert store.hold(key, 60) is key
    assert store.hold("lark:cli_app:other", 60) is not None  # rotation
    store.finish(key, key, 3600)
    assert store.hold(fresh(key), 60) is None
    assert len(store) == 3  # done in the current generation, its old claim shadowed
    store.drop(key, key)
    assert store.hold(fresh(key), 60) is None  # done, not released


def test_a_key_live_in_the_previous_generation_cannot_be_held() -> None:
    clock = Clock()
    store = MemoryDedupStore(max_entries=4, clock=clock)
    done = fresh("lark:cli_app:done")
    assert store.hold(done, 60) is done
    store.finish(done, done, 3600)
    assert store.hold("lark:cli_app:x", 60) is not None  # rotation
    assert store.hold(fresh(done), 60) is None
    assert len(store) == 2  # a refused hold leaves nothing behind
    clock.now += 3601
    again = fresh(done)
    assert store.hold(again, 60) is again  # expired in the previous generation


def test_hold_is_atomic_across_threads() -> None:
    store = MemoryDedupStore()
    barrier = threading.Barrier(16)
    wins: list[str] = []

    def race() -> None:
        key = fresh("lark:cli_app:same")
        barrier.wait()
        if store.hold(key, 60) is key:
            wins.append(key)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
