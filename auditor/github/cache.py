"""A persistent conditional-request cache: ETags and bodies in one SQLite file per identity.

Repeated audits and gate runs mostly ask for what has not changed; a GET sent with the stored
`If-None-Match` that comes back 304 costs no rate-limit units (GitHub's docs). The file is named
after a hash of the identity, never the token, so two tokens never share answers (what one may see,
the other may not). SQLite in WAL mode lets several worker threads and processes read and write
it at once; each thread has its own connection. The file is bounded: past `max_bytes` the least
recently used entries are evicted. A cache that cannot be read or written is skipped rather than
failing the run (the request simply goes out unconditionally).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    used_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_used_at ON entries (used_at);
"""


def cache_file(folder: Path, identity: str) -> Path:
    """The SQLite file for `identity` under `folder` (a hash, so the name reveals nothing)."""
    digest = hashlib.sha256(f"auditor-etag-cache:{identity}".encode()).hexdigest()[:24]
    return folder / f"etags-{digest}.sqlite"


class DiskEtagCache:
    """An `EtagCache` (see client.py) kept in SQLite; safe across threads and processes.

    `max_bytes` bounds the stored keys, etags and bodies; after a write that passes it, the least
    recently used entries are deleted down to 90% of it, so eviction does not run on every write.
    """

    def __init__(self, folder: Path, identity: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = cache_file(folder, identity)
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._lock:
            conn = self._conn()
            conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"DiskEtagCache({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so that close() may close every thread's connection at the end.
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    def get(self, key: str) -> tuple[str, str] | None:
        """(etag, body) stored for `key`, marking it recently used; None if absent or unreadable."""
        try:
            conn = self._conn()
            row = conn.execute("SELECT etag, body FROM entries WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE entries SET used_at = ? WHERE key = ?", (time.time(), key))
        except sqlite3.Error:
            return None
        return str(row[0]), str(row[1])

    def put(self, key: str, etag: str, body: str) -> None:
        """Remember the body GitHub sent with `etag`, then evict if the cache grew past its bound."""
        size = len(key.encode()) + len(etag.encode()) + len(body.encode())
        if size > self.max_bytes:
            return
        try:
            conn = self._conn()
            conn.execute(
                "INSERT OR REPLACE INTO entries (key, etag, body, size, used_at) VALUES (?, ?, ?, ?, ?)",
                (key, etag, body, size, time.time()),
            )
            self._evict(conn)
        except sqlite3.Error:
            return

    def size(self) -> int:
        """Bytes of keys, etags and bodies stored."""
        return int(self._conn().execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0])

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def _evict(self, conn: sqlite3.Connection) -> None:
        total = int(conn.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0])
        if total <= self.max_bytes:
            return
        target = total - int(self.max_bytes * 0.9)
        conn.execute("BEGIN IMMEDIATE")
        try:
            freed = 0
            doomed: list[str] = []
            for key, size in conn.execute("SELECT key, size FROM entries ORDER BY used_at, key"):
                if freed >= target:
                    break
                doomed.append(str(key))
                freed += int(size)
            conn.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in doomed])
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every thread's connection (call once all workers are done)."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
