"""The gateway's durable state in one SQLite database (WAL): nonces, dedup high-water marks, dictionaries,
clock offsets, the export queue, cumulative totals, the /metrics view and dead letters.

All writes happen on one writer thread (``Store.write``), one transaction per upload request, committed
before the reply; the drain loop reads the queue on its own connection and thread (WAL readers do not block
the writer)::

    store = Store("gateway-data/gateway.sqlite3")
    results = await store.write(ingest_function, request)     # runs in the writer thread
    rows = await store.read(store.read_queue, 5000)            # runs in the reader thread
"""

import asyncio
import collections
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import msgpack

from litetel_gateway.decoder import Dictionary

SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (device TEXT, epoch INTEGER, counter INTEGER, PRIMARY KEY (device, epoch));
CREATE TABLE IF NOT EXISTS seen (device TEXT, epoch INTEGER, seq INTEGER, PRIMARY KEY (device, epoch));
CREATE TABLE IF NOT EXISTS dictionaries (device TEXT, epoch INTEGER, blob BLOB, PRIMARY KEY (device, epoch));
CREATE TABLE IF NOT EXISTS dictionary_parts (id INTEGER PRIMARY KEY, device TEXT, epoch INTEGER, part BLOB);
CREATE INDEX IF NOT EXISTS dictionary_parts_key ON dictionary_parts (device, epoch, id);
CREATE TABLE IF NOT EXISTS clocks (device TEXT, epoch INTEGER, ticks_offset INTEGER, wall_offset INTEGER,
    corrected INTEGER, PRIMARY KEY (device, epoch));
CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT, epoch INTEGER,
    seq INTEGER, start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB);
CREATE TABLE IF NOT EXISTS dead_letter (id INTEGER PRIMARY KEY, device TEXT, epoch INTEGER, seq INTEGER,
    start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB, reason TEXT,
    time_us INTEGER);
CREATE TABLE IF NOT EXISTS queue_traces (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT, epoch INTEGER,
    seq INTEGER, start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB);
CREATE TABLE IF NOT EXISTS dead_letter_traces (id INTEGER PRIMARY KEY, device TEXT, epoch INTEGER, seq INTEGER,
    start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB, reason TEXT,
    time_us INTEGER);
CREATE TABLE IF NOT EXISTS queue_logs (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT, epoch INTEGER,
    seq INTEGER, start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB);
CREATE TABLE IF NOT EXISTS dead_letter_logs (id INTEGER PRIMARY KEY, device TEXT, epoch INTEGER, seq INTEGER,
    start_us INTEGER, end_us INTEGER, corrected INTEGER, n_points INTEGER, points BLOB, reason TEXT,
    time_us INTEGER);
CREATE TABLE IF NOT EXISTS cumulative (device TEXT, epoch INTEGER, series INTEGER, start_us INTEGER,
    state BLOB, PRIMARY KEY (device, epoch, series));
CREATE TABLE IF NOT EXISTS prom_series (name TEXT, labels BLOB, type TEXT, help TEXT, state BLOB,
    PRIMARY KEY (name, labels));
"""

# Each signal has its own queue and dead letters (same columns; for traces and logs ``n_points`` counts
# spans / log records and ``points`` holds their wire entries), so one signal's export failing never
# holds back another's.
SIGNALS = ("metrics", "traces", "logs")
_QUEUE = {"metrics": "queue", "traces": "queue_traces", "logs": "queue_logs"}
_DEAD_LETTER = {"metrics": "dead_letter", "traces": "dead_letter_traces", "logs": "dead_letter_logs"}

MAX_DICTIONARY_PARTS = 1024  # appended dictionary parts of a (device, epoch) before they are compacted

QueueRow = collections.namedtuple("QueueRow", "id device epoch seq start_us end_us corrected n_points points")


def _connect(path, synchronous):
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=%s" % ("FULL" if synchronous == "FULL" else "NORMAL"))
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class Store:
    """SQLite state behind a single writer thread and a single reader thread."""

    def __init__(self, path, synchronous="FULL", dictionary_cache=4096, dictionary_cache_bytes=64 << 20):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="litetel-store-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="litetel-store-reader")
        self.db = _connect(path, synchronous)  # writer thread only (and here, before it starts)
        self.db.executescript(SCHEMA)
        self.reader_db = _connect(path, synchronous)
        self._dictionaries = collections.OrderedDict()  # (device, epoch) -> Dictionary, owned by the writer
        self._dictionary_cache = dictionary_cache
        self._dictionary_cache_bytes = dictionary_cache_bytes
        self._dictionary_bytes = 0
        self._lock = threading.Lock()
        self._touched = {}
        self._request_keys = set()
        self._cumulative = {}
        self._cumulative_sizes = {}  # (device, epoch) -> {series: packed bytes of its state}
        self._cumulative_bytes = 0
        self.closed = False

    # -- threads -----------------------------------------------------------------------------------
    async def write(self, fn, *args):
        """Run ``fn(*args)`` on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    async def read(self, fn, *args):
        """Run ``fn(*args)`` on the reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self.reader_db.close()
        self.db.close()

    # -- transactions (writer thread) --------------------------------------------------------------
    def begin(self):
        self.db.execute("BEGIN IMMEDIATE")
        self._touched = {}

    def commit(self):
        self.db.execute("COMMIT")
        for key, dictionary in self._touched.items():
            dictionary.publish()
            self._cache_dictionary(key, dictionary)
        self._touched = {}
        while len(self._cumulative) > 1 and (  # oldest first (insertion order), in count and in bytes
            len(self._cumulative) > self._dictionary_cache or self._cumulative_bytes > self._dictionary_cache_bytes
        ):
            self._drop_cumulative(next(iter(self._cumulative)))

    def _drop_cumulative(self, key):
        self._cumulative.pop(key, None)
        self._cumulative_bytes -= sum(self._cumulative_sizes.pop(key, {}).values())

    def rollback(self):
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self._forget(list(self._touched))
        self._touched = {}

    def _forget(self, keys):
        """Cached objects may hold changes that were not committed: drop them, reload on next use."""
        with self._lock:
            for key in keys:
                old = self._dictionaries.pop(key, None)
                if old is not None:
                    self._dictionary_bytes -= old._cached_bytes
        for key in keys:
            self._drop_cumulative(key)
            self._touched.pop(key, None)

    # One upload request is one savepoint inside the group transaction: a request that fails (replay,
    # a bug) is undone alone while the others of the group commit together (one fsync for all).
    def savepoint(self):
        self.db.execute("SAVEPOINT request")
        self._request_keys = set()

    def release(self):
        self.db.execute("RELEASE request")

    def rollback_request(self):
        self.db.execute("ROLLBACK TO request")
        self.db.execute("RELEASE request")
        self._forget(self._request_keys)

    # -- nonces, dedup marks, clocks (writer thread) -----------------------------------------------
    def _get_int(self, sql, args):
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def nonce(self, device, epoch):
        return self._get_int("SELECT counter FROM nonces WHERE device=? AND epoch=?", (device, epoch))

    def set_nonce(self, device, epoch, counter):
        self.db.execute("INSERT OR REPLACE INTO nonces VALUES (?,?,?)", (device, epoch, counter))

    def last_seq(self, device, epoch):
        """The high-water mark of (device, epoch): frames with seq ≤ it are duplicates."""
        return self._get_int("SELECT seq FROM seen WHERE device=? AND epoch=?", (device, epoch))

    def set_last_seq(self, device, epoch, seq):
        self.db.execute("INSERT OR REPLACE INTO seen VALUES (?,?,?)", (device, epoch, seq))

    def clock(self, device, epoch):
        """``[ticks_offset, wall_offset, corrected]`` (offsets None when unknown) of (device, epoch)."""
        row = self.db.execute(
            "SELECT ticks_offset, wall_offset, corrected FROM clocks WHERE device=? AND epoch=?",
            (device, epoch),
        ).fetchone()
        return [None, None, 0] if row is None else list(row)

    def set_clock(self, device, epoch, clock):
        self.db.execute("INSERT OR REPLACE INTO clocks VALUES (?,?,?,?,?)", (device, epoch, *clock))

    # -- dictionaries ------------------------------------------------------------------------------
    def dictionary(self, device, epoch):
        """The (device, epoch) dictionary for the writer (cached, an empty one when new)."""
        key = (device, epoch)
        d = self._touched.get(key) or self._dictionaries.get(key)
        if d is None:
            d = self._load_dictionary(self.db, device, epoch) or Dictionary()
            d.staging = True
        return d

    def save_dictionary(self, device, epoch, d):
        """Append what ``d`` gained since it was loaded or last saved (a savepoint rollback drops ``d``)."""
        part = d.new_part()
        d.n_parts += 1
        if d.n_parts > MAX_DICTIONARY_PARTS:  # e.g. a resource flipping each frame: compact, amortized
            blob = d.to_blob()
            self.db.execute("DELETE FROM dictionary_parts WHERE device=? AND epoch=?", (device, epoch))
            self.db.execute("INSERT OR REPLACE INTO dictionaries VALUES (?,?,?)", (device, epoch, blob))
            d.n_parts, d.stored_bytes = 0, len(blob)
        else:
            self.db.execute(
                "INSERT INTO dictionary_parts (device, epoch, part) VALUES (?,?,?)", (device, epoch, part)
            )
            d.stored_bytes += len(part)
        self.touch(device, epoch, d)

    def touch(self, device, epoch, d):
        """Mark a dictionary object as used in this transaction (dropped from the cache on rollback)."""
        self._touched[(device, epoch)] = d
        self._request_keys.add((device, epoch))

    def reader_dictionary(self, device, epoch):
        """The dictionary for the reader thread: the writer's cached object, else a private load."""
        with self._lock:
            d = self._dictionaries.get((device, epoch))
        return d if d is not None else (self._load_dictionary(self.reader_db, device, epoch) or Dictionary())

    @staticmethod
    def _load_dictionary(db, device, epoch):
        # base row and parts from one snapshot (a compaction replaces the one and deletes the others)
        own = not db.in_transaction  # the reader connection runs in autocommit
        if own:
            db.execute("BEGIN")
        try:
            row = db.execute(
                "SELECT blob FROM dictionaries WHERE device=? AND epoch=?", (device, epoch)
            ).fetchone()
            parts = [
                p for (p,) in db.execute(
                    "SELECT part FROM dictionary_parts WHERE device=? AND epoch=? ORDER BY id", (device, epoch)
                )
            ]
        finally:
            if own:
                db.execute("COMMIT")
        if row is None and not parts:
            return None
        d = Dictionary.from_blob(None if row is None else row[0], parts)
        d.stored_bytes = (0 if row is None else len(row[0])) + sum(len(p) for p in parts)
        d.n_parts = len(parts)
        return d

    def _cache_dictionary(self, key, d):
        """LRU, bounded in count and in (stored) bytes: one device opening epoch after epoch with large
        dictionaries must not hold the gateway's memory."""
        with self._lock:
            old = self._dictionaries.pop(key, None)
            if old is not None:
                self._dictionary_bytes -= old._cached_bytes
            d._cached_bytes = d.stored_bytes
            self._dictionaries[key] = d
            self._dictionary_bytes += d._cached_bytes
            while len(self._dictionaries) > 1 and (
                len(self._dictionaries) > self._dictionary_cache
                or self._dictionary_bytes > self._dictionary_cache_bytes
            ):
                self._dictionary_bytes -= self._dictionaries.popitem(last=False)[1]._cached_bytes

    # -- cumulative totals (writer thread) ---------------------------------------------------------
    def cumulative(self, device, epoch):
        """``{series: [start_us, state]}`` of (device, epoch), mutable within the transaction."""
        key = (device, epoch)
        states = self._cumulative.get(key)
        if states is None:
            states, sizes = {}, {}
            for s, start, blob in self.db.execute(
                "SELECT series, start_us, state FROM cumulative WHERE device=? AND epoch=?", (device, epoch)
            ):
                states[s] = [start, msgpack.unpackb(blob)]
                sizes[s] = len(blob)
            self._cumulative[key] = states
            self._cumulative_sizes[key] = sizes
            self._cumulative_bytes += sum(sizes.values())
        self.touch(device, epoch, self.dictionary(device, epoch))
        return states

    def save_cumulative(self, device, epoch, changed):
        rows = [(device, epoch, s, start, msgpack.packb(state)) for s, (start, state) in changed]
        self.db.executemany("INSERT OR REPLACE INTO cumulative VALUES (?,?,?,?,?)", rows)
        sizes = self._cumulative_sizes.setdefault((device, epoch), {})
        for _, _, s, _, blob in rows:
            self._cumulative_bytes += len(blob) - sizes.get(s, 0)
            sizes[s] = len(blob)

    # -- the /metrics view -------------------------------------------------------------------------
    def save_prom_series(self, rows):
        """Persist ``[(name, labels_blob, type, help, state), ...]``."""
        self.db.executemany(
            "INSERT OR REPLACE INTO prom_series VALUES (?,?,?,?,?)",
            [(name, labels, t, h, msgpack.packb(s)) for name, labels, t, h, s in rows],
        )

    def load_prom_series(self):
        rows = self.db.execute("SELECT name, labels, type, help, state FROM prom_series")
        return [(name, labels, t, h, msgpack.unpackb(s, use_list=True)) for name, labels, t, h, s in rows]

    # -- the queue ---------------------------------------------------------------------------------
    def enqueue(self, device, epoch, seq, start_us, end_us, corrected, n_points, points_blob, signal="metrics"):
        self.db.execute(
            "INSERT INTO " + _QUEUE[signal] + " (device, epoch, seq, start_us, end_us, corrected, n_points, points) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (device, epoch, seq, start_us, end_us, corrected, n_points, points_blob),
        )

    def queue_stats(self, signal="metrics"):
        """``(frames, points)`` waiting in the queue of ``signal``."""
        frames, points = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_points), 0) FROM " + _QUEUE[signal]
        ).fetchone()
        return frames, points

    def read_queue(self, max_points, signal="metrics"):
        """The oldest queued rows (reader thread) holding about ``max_points`` points, at least one row."""
        rows, total, after = [], 0, 0
        while total < max_points:
            chunk = self.reader_db.execute(
                "SELECT id, device, epoch, seq, start_us, end_us, corrected, n_points, points FROM "
                + _QUEUE[signal]
                + " WHERE id > ? ORDER BY id LIMIT 64",
                (after,),
            ).fetchall()
            for row in chunk:
                if rows and total + row[7] > max_points:
                    return rows
                rows.append(QueueRow(*row))
                total += row[7]
            if len(chunk) < 64:
                break
            after = chunk[-1][0]
        return rows

    def ack(self, ids, signal="metrics"):
        """Delete exported rows (writer thread)."""
        self.begin()
        try:
            self.db.executemany("DELETE FROM " + _QUEUE[signal] + " WHERE id=?", [(i,) for i in ids])
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def dead_letter(self, ids, reason, now_us, signal="metrics"):
        """Move rows the receiver refused permanently to ``dead_letter`` (writer thread)."""
        queue = _QUEUE[signal]
        self.begin()
        try:
            self.db.executemany(
                "INSERT OR REPLACE INTO " + _DEAD_LETTER[signal] + " SELECT id, device, epoch, seq, start_us, "
                "end_us, corrected, n_points, points, ?, ? FROM " + queue + " WHERE id=?",
                [(reason[:1000], now_us, i) for i in ids],
            )
            self.db.executemany("DELETE FROM " + queue + " WHERE id=?", [(i,) for i in ids])
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def dead_letter_count(self, signal="metrics"):
        return self.db.execute("SELECT COUNT(*) FROM " + _DEAD_LETTER[signal]).fetchone()[0]


class GroupWriter:
    """Runs ``fn(items) -> outcomes`` on the writer thread, grouping the items submitted while a call is
    under way into the next call: with ``Ingest.run_group`` one transaction (one fsync) serves many
    uploads, and nobody waits for more than one group. An outcome that is an exception is raised to its
    submitter.

        group = GroupWriter(store, ingest.run_group)
        results, stats = await group.submit(upload)      # raises Replay like Ingest
    """

    def __init__(self, store, fn, max_group=128):
        self.store = store
        self.fn = fn
        self.max_group = max_group
        self._waiting = []
        self._running = False

    async def submit(self, item):
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._running:
            self._start()
        return await future

    def _start(self):
        group, self._waiting = self._waiting[: self.max_group], self._waiting[self.max_group :]
        self._running = True
        task = asyncio.ensure_future(self.store.write(self.fn, [item for item, _ in group]))
        task.add_done_callback(lambda done: self._finished(group, done))

    def _finished(self, group, done):
        self._running = False
        # A cancelled write (loop teardown) may still commit on the writer thread: answer its waiters with
        # an error (503, the device retries and dedup catches a committed frame) rather than never.
        error = RuntimeError("store write cancelled") if done.cancelled() else done.exception()
        outcomes = [error] * len(group) if error is not None else done.result()
        for (_, future), outcome in zip(group, outcomes):
            if future.done():  # the client went away; what was committed stays committed
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self._waiting:
            self._start()
