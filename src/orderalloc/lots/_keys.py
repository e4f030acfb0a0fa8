"""Tie-breaks: a key per account from its id and a seed, never from its position.

Every step of the rounding breaks ties by these keys, so a permutation of the
accounts gives the same amounts, and a seed that changes from order to order
rotates who wins ties. `tie_keys` is public (`orderalloc.lots.tie_keys`);
`_LazyKeys` hashes only the accounts that meet in a tie.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..typing import IntArray


def tie_keys(ids: Sequence[str], seed: int) -> list[int]:
    """A 64-bit tie-break key per account id, independent of list position.

    The key depends only on the id and *seed*: sorting by it favours no
    account for where it stands in the input, and a seed that changes from
    order to order changes who wins the ties.
    """
    prefix = f"{seed}:".encode()
    return [
        int.from_bytes(hashlib.blake2b(prefix + i.encode(), digest_size=8).digest(), "big")
        for i in ids
    ]


class _LazyKeys:
    """Tie-break keys computed only for the accounts that meet in a tie."""

    def __init__(self, ids: Sequence[str], seed: int) -> None:
        self.ids = ids
        self._ids = ids
        self._seed = seed
        self._cache: dict[int, int] = {}

    def __call__(self, i: int) -> int:
        key = self._cache.get(i)
        if key is None:
            key = tie_keys([self._ids[i]], self._seed)[0]
            self._cache[i] = key
        return key

    def many(self, rows: list[int]) -> list[int]:
        """The keys of *rows*, hashing the missing ones in one call."""
        missing = [i for i in rows if i not in self._cache]
        if missing:
            fresh = tie_keys([self._ids[i] for i in missing], self._seed)
            self._cache.update(zip(missing, fresh, strict=True))
        return [self._cache[i] for i in rows]

    def pick(self, candidates: IntArray) -> int:
        """The candidate with the smallest key."""
        if candidates.size == 1:
            return int(candidates[0])
        return int(min(candidates.tolist(), key=self))


class _SubsetKeys(_LazyKeys):
    """Tie-break keys of a subset of accounts, looked up by position in the subset."""

    def __init__(self, keys: _LazyKeys, rows: IntArray) -> None:
        self.ids = [keys.ids[i] for i in rows.tolist()]
        self._keys = keys
        self._rows = rows.tolist()

    def __call__(self, i: int) -> int:
        return self._keys(self._rows[i])


def _key_order(keys: _LazyKeys, rows: IntArray) -> list[int]:
    """*rows* sorted by tie key (then id): an order that ignores input position."""
    return sorted(rows.tolist(), key=lambda i: (keys(i), keys.ids[i]))
