"""Claim owner tokens: unique in a process, and drawn afresh in a forked child."""

from __future__ import annotations

from lark_events_core import claims


def test_owner_tokens_are_unique_and_share_the_process_prefix() -> None:
    tokens = [claims.new_owner() for _ in range(1_000)]
    assert len(set(tokens)) == len(tokens)
    assert {token.rsplit("-", 1)[0] for token in tokens} == {claims._OWNERS.prefix[:-1]}


def test_the_fork_hook_draws_a_new_prefix_that_new_tokens_use() -> None:
    before = claims.new_owner()
    claims._OWNERS.reset()  # what os.register_at_fork runs in the child
    after = claims.new_owner()
    assert after.startswith(claims._OWNERS.prefix)
    assert not after.startswith(before.rsplit("-", 1)[0] + "-")
    assert after.endswith("-1")  # the counter starts again with the prefix
