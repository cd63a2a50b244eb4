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


async def test_delete_if_equal_removes_only_the_holders_value(store: Store) -> None:
    """delete_if_equal removes a key only while it holds the given value (a lease's holder)."""
    assert await store.set_if_absent("lease", b"holder-a", 60)
    assert not await store.delete_if_equal("lease", b"holder-b")
    assert await store.get("lease") == b"holder-a"
    assert await store.delete_if_equal("lease", b"holder-a")
    assert await store.get("lease") is None
    assert not await store.delete_if_equal("lease", b"holder-a")


async def test_a_lease_retaken_after_expiry_survives_the_old_holders_release(
    store: Store,
) -> None:
    """A holder whose lease expired and was retaken cannot release the new holder's lease."""
    assert await store.set_if_absent("lease", b"old", 0.05)
    await asyncio.sleep(0.1)
    assert await store.set_if_absent("lease", b"new", 60)
    assert not await store.delete_if_equal("lease", b"old")
    assert await store.get("lease") == b"new"


async def test_increment_counts_atomically_and_expires(store: Store) -> None:
    """increment counts from 1, atomically under concurrency, and the counter expires."""
    counts = await asyncio.gather(*(store.increment("n", 0.2) for _ in range(30)))
    assert sorted(counts) == list(range(1, 31))
    await asyncio.sleep(0.3)
    assert await store.increment("n", 0.2) == 1
