"""Stable sharding of an org's repositories: `--shard K/N` audits partition K of N.

The partition is a hash of the repository's full name, so every job of a matrix (or every machine)
computes the same split without talking to the others, and adding repositories moves only those.
"""

from __future__ import annotations

import hashlib
import re


class ShardError(ValueError):
    """`--shard` was not of the form K/N with 1 <= K <= N."""


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); shards are numbered from 1 as matrix jobs usually are."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ShardError(f"--shard {text!r}: expected K/N, e.g. 1/4")
    k, n = int(match.group(1)), int(match.group(2))
    if not 1 <= k <= n:
        raise ShardError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_of(repo: str, n: int) -> int:
    """The shard (1..n) a repository belongs to."""
    digest = hashlib.sha256(repo.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % n + 1
