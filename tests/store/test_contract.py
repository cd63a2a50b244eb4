"""What every Store backend must do, run against the memory and the Redis backend."""

from __future__ import annotations

import asyncio

import pytest

from okta_bearer._store.memory import Store

pytestmark = pytest.mark.anyio


async def test_set_if_absent_first_caller_wins(store: Store) -> None:
    """The first set_if_absent stores the value; a second one with the same key does not."""
    assert await store.set_if_absent("k", b"first", 60)
    assert not await store.set_if_absent("k", b"second", 60)
    assert await store.get("k") == b"first"


async def test_set_get_delete(store: Store) -> None:
    """set replaces, get reads, delete removes (and deleting a missing key is fine)."""
    await store.set("k", b"one", 60)
    await store.set("k", b"two", 60)
    assert await store.get("k") == b"two"
    await store.delete("k")
    await store.delete("k")
    assert await store.get("k") is None


async def test_key_free_again_after_delete(store: Store) -> None:
    """After delete, set_if_absent succeeds again."""
    assert await store.set_if_absent("k", b"v", 60)
    await store.delete("k")
    assert await store.set_if_absent("k", b"v", 60)


async def test_values_are_bytes_exactly(store: Store) -> None:
    """Arbitrary bytes round-trip unchanged."""
    value = bytes(range(256))
    await store.set("bin", value, 60)
    assert await store.get("bin") == value


async def test_concurrent_set_if_absent_exactly_one_wins(store: Store) -> None:
    """Of 50 concurrent set_if_absent calls on one key, exactly one returns True."""
    results = await asyncio.gather(*(store.set_if_absent("race", b"v", 60) for _ in range(50)))
    assert results.count(True) == 1
