"""`IN (…)` lists in few statement texts.

Each count of values in an `IN (…)` list is a different SQL text, and the SQLite driver keeps up
to 128 prepared statements per connection, about 200 bytes per value each: lists of every length
fill the cache with near-identical statements (some 20 MiB in the 1,000-reminder run; README,
Performance). Padding a list to the next power of two keeps the same set in one of a dozen texts.
"""

from __future__ import annotations

from collections.abc import Collection


def padded_ids(ids: Collection[int]) -> list[int]:
    """`ids` for an `IN (…)` list, sorted and padded to the next power of two by repeating the
    last id: the same set, in one of a dozen SQL texts instead of one per count (Hibernate's
    `in_clause_parameter_padding` does the same)."""
    ordered = sorted(set(ids))
    if len(ordered) < 2:
        return ordered
    return ordered + [ordered[-1]] * ((1 << (len(ordered) - 1).bit_length()) - len(ordered))
