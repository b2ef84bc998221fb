"""A cancelled group write (loop teardown) answers its waiters with an error instead of never."""

import asyncio
import threading

from litetel_gateway.store import GroupWriter, Store


def test_cancelled_group_write_answers_its_waiters(tmp_path):
    store = Store(str(tmp_path / "g.sqlite3"))
    release = threading.Event()

    def slow(items):
        release.wait(5)
        return ["ok"] * len(items)

    group = GroupWriter(store, slow)

    async def main():
        first = asyncio.ensure_future(group.submit(1))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(group.submit(2))  # waits for the next group
        await asyncio.sleep(0.05)
        write_tasks = [t for t in asyncio.all_tasks() if t not in (first, second, asyncio.current_task())]
        assert len(write_tasks) == 1
        write_tasks[0].cancel()  # e.g. loop teardown
        release.set()
        done, pending = await asyncio.wait([first, second], timeout=2)
        for t in pending:
            t.cancel()
        return len(done), len(pending)

    try:
        n_done, n_pending = asyncio.run(main())
    finally:
        release.set()
        store.close()
    assert n_pending == 0, "%d submitters never answered after the write task was cancelled" % n_pending
