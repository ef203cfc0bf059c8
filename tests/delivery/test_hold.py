"""MemoryDedupStore.hold/finish/drop: claims by an in-process caller, with no owner to build.

The token hold() returns is a float made for the claim (its expiry, negated), compared by identity.
"""

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


def test_a_hold_token_is_a_new_object_and_the_key_is_claimed_once() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-1")
    token = store.hold(key, 60)
    assert token is not None
    assert store.hold(fresh(key), 60) is None  # a second delivery while it is handled
    assert store.hold(key, 60) is None  # the very same key object too: the key is no owner
    assert not store.claim(key, "other", 60)
    store.complete(key, "other", 3600)  # another owner cannot complete this claim
    store.release(key, "other")  # nor release it
    store.finish(key, token + 0.0, 3600)  # an equal float is not this claim's token
    store.drop(key, token + 0.0)
    assert store.hold(fresh(key), 60) is None
    store.finish(key, token, 3600)
    assert store.hold(fresh(key), 60) is None  # done
    store.drop(key, token)  # a done key is not a claim: dropping it does nothing
    assert store.hold(fresh(key), 60) is None


def test_an_interned_key_held_twice_is_still_claimed_once() -> None:
    # The token is made by hold(), so a key string shared by two deliveries is no owner.
    store = MemoryDedupStore()
    key = "lark:cli_app:interned"
    first = store.hold(key, 60)
    assert first is not None
    assert store.hold(key, 60) is None
    store.finish(key, None, 3600)  # no token: nothing settled
    store.drop(key, None)
    assert store.hold(key, 60) is None
    store.drop(key, first)
    assert store.hold(key, 60) is not None


def test_drop_frees_the_key_for_a_retry() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-2")
    token = store.hold(key, 60)
    assert token is not None
    store.drop(key, token)
    assert len(store) == 0
    assert store.hold(fresh(key), 60) is not None


def test_a_slow_holder_cannot_settle_the_claim_that_took_over() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    slow = fresh("lark:cli_app:ev-3")
    old = store.hold(slow, 10)
    assert old is not None
    clock.now += 11  # the slow handler's claim expired: a retry takes it over
    new = store.hold(fresh(slow), 10)
    assert new is not None
    store.drop(slow, old)  # the old token is not the new claim's
    assert store.hold(fresh(slow), 10) is None
    store.finish(slow, old, 3600)  # nor can it complete the new claim
    store.drop(slow, new)
    assert store.hold(fresh(slow), 10) is not None


def test_an_expired_claim_not_taken_over_is_finished_by_its_holder() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    key = fresh("lark:cli_app:late")
    token = store.hold(key, 10)
    clock.now += 11
    store.finish(key, token, 3600)
    assert store.hold(fresh(key), 10) is None
    clock.now += 3601
    assert store.hold(fresh(key), 10) is not None


def test_a_hold_takes_over_an_expired_claim_made_by_an_owner() -> None:
    clock = Clock()
    store = MemoryDedupStore(clock=clock)
    key = "lark:cli_app:by-value"
    assert store.claim(key, "owner-1", 10)
    assert store.approx_bytes > 224  # the owner counts while its claim is held
    clock.now += 11
    token = store.hold(key, 10)
    assert token is not None
    assert store.approx_bytes == 224  # its owner went with its claim
    store.complete(key, "owner-1", 3600)  # the old owner's claim is gone: it cannot complete
    store.release(key, "owner-1")
    assert store.hold(fresh(key), 10) is None
    store.drop(key, token)
    assert store.hold(fresh(key), 10) is not None


def test_owners_given_by_value_and_hold_tokens_do_not_mix() -> None:
    store = MemoryDedupStore()
    key = fresh("lark:cli_app:ev-4")
    assert store.claim(key, fresh(key), 60)  # an owner equal to the key, given by value
    store.finish(key, key, 3600)  # not a token: the claim stays
    store.drop(key, key)
    assert store.hold(fresh(key), 60) is None
    store.release(key, fresh(key))  # by value, the owner releases it
    assert store.hold(fresh(key), 60) is not None


def test_a_long_or_non_ascii_key_is_held_by_its_token() -> None:
    store = MemoryDedupStore()
    for key in ["lark:cli_app:" + "e" * 100, "lark:cli_app:\N{GRINNING FACE}"]:
        token = store.hold(key, 60)
        assert token is not None
        assert store.hold(fresh(key), 60) is None
        store.drop(key, token + 0.0)  # an equal token is not this claim's
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
    token = store.hold(key, 60)
    assert token is not None
    assert store.hold("lark:cli_app:other", 60) is not None  # rotation
    store.finish(key, token, 3600)
    assert store.hold(fresh(key), 60) is None
    assert len(store) == 3  # done in the current generation, its old claim shadowed
    store.drop(key, token)
    assert store.hold(fresh(key), 60) is None  # done, not released


def test_a_claim_rotated_into_the_previous_generation_is_dropped_there() -> None:
    store = MemoryDedupStore(max_entries=4)
    key = fresh("lark:cli_app:failed")
    token = store.hold(key, 60)
    assert store.hold("lark:cli_app:other", 60) is not None  # rotation
    store.drop(key, token)
    assert store.hold(fresh(key), 60) is not None  # released: the retry is handled


def test_a_key_live_in_the_previous_generation_cannot_be_held() -> None:
    clock = Clock()
    store = MemoryDedupStore(max_entries=4, clock=clock)
    done = fresh("lark:cli_app:done")
    store.finish(done, store.hold(done, 60), 3600)
    assert store.hold("lark:cli_app:x", 60) is not None  # rotation
    assert store.hold(fresh(done), 60) is None
    assert len(store) == 2  # a refused hold leaves nothing behind
    clock.now += 3601
    assert store.hold(fresh(done), 60) is not None  # expired in the previous generation


def test_hold_is_atomic_across_threads() -> None:
    store = MemoryDedupStore()
    barrier = threading.Barrier(16)
    wins: list[float] = []

    def race() -> None:
        key = fresh("lark:cli_app:same")
        barrier.wait()
        token = store.hold(key, 60)
        if token is not None:
            wins.append(token)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
