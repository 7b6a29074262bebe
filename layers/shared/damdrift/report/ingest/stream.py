"""DX's mismatch records as the download takes them: capped, the first one noted, read ahead in a thread.

:func:`damdrift.report.ingest.download.download_report` writes what comes out of here into each part's files.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
from collections.abc import Generator, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar

from damdrift.errors import UnexpectedResponse

#: Records handed from the download thread to the writer at a time (one DX page at the default size), and
#: how many such batches the thread may fetch ahead of the writer (a few MB of records at most).
READ_AHEAD_BATCH = 1000
READ_AHEAD_DEPTH = 4
#: The GIL switch interval while the download thread runs (CPython's default is 5 ms). See read_ahead().
_SWITCH_INTERVAL = 0.0002
T = TypeVar("T")
_END = object()


def capped(
    records: Iterator[Mapping[str, Any]], max_records: int | None, resumed_at: int
) -> Iterator[Mapping[str, Any]]:
    """``records`` up to the report's ``max_records`` (None: no cap), of which ``resumed_at`` are stored
    already; one more is an ``UnexpectedResponse``."""
    return records if max_records is None else _capped(records, max_records, resumed_at)


def _capped(
    records: Iterator[Mapping[str, Any]], max_records: int, resumed_at: int
) -> Generator[Mapping[str, Any]]:
    room = max_records - resumed_at
    if room <= 0:  # a retry after the cap was met: stop before asking DX for anything
        raise UnexpectedResponse(_too_many(max_records))
    yield from islice(records, room)
    if next(records, _END) is not _END:  # one record past the cap
        raise UnexpectedResponse(_too_many(max_records))


def _too_many(max_records: int) -> str:
    return (
        f"DX's mismatch log has more than {max_records} records (REPORT_MAX_RECORDS): a log that does not "
        "end, or a report bigger than this stack allows; the records before the cap are kept"
    )


def noting_first(
    records: Iterator[Mapping[str, Any]], first: list[Mapping[str, Any]], note: bool
) -> Generator[Mapping[str, Any]]:
    """``records`` unchanged; the first one is also put in ``first`` (when ``note``)."""
    if note:
        for record in records:
            first.append(record)
            yield record
            break
    yield from records


def read_ahead(
    source: Iterator[T], limit: int, batch: int = READ_AHEAD_BATCH, depth: int = READ_AHEAD_DEPTH
) -> Generator[T]:
    """Yields the next ``limit`` items of ``source``, while a thread pulls up to ``depth`` batches ahead.

    Why: DX takes its time over every page (here the simulator needs ~25 ms a page, a real DX a query
    and a network), and writing a page costs about as much again; one after the other, each waits for
    the other. With the next pages downloading while this one is written, the download takes little
    longer than DX itself. An error of ``source`` is raised after every item before it, so a partial
    report still holds each record that arrived. Closing the generator stops the thread and waits for
    it, so the client is never used by two threads at once; and the thread never takes more than
    ``limit`` items, so DX is asked for exactly the pages it would be asked for without it (a part ends
    where it did, and nothing past a failed part is downloaded and thrown away).

    While the thread runs the GIL switch interval is 0.2 ms instead of 5 ms (restored when the last
    running read-ahead ends, however it ends): the thread reads each page from its socket in ~10 KB
    reads, and every read would otherwise wait up to 5 ms for the writer to let go of the GIL — that
    wait, not the GIL itself, is what made an earlier read-ahead no faster.
    """
    ready: queue.Queue[list[T] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: list[T] | BaseException | None) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return True
        return False

    def produce() -> None:
        left = limit
        while left > 0:
            want = min(batch, left)
            chunk: list[T] = []
            try:
                # extend() keeps what it appended when the source raises (C speed, no loop here).
                chunk.extend(islice(source, want))
            except BaseException as exc:  # handed to the writer, which raises it after the records before
                if not chunk or put(chunk):
                    put(exc)
                return
            if chunk and not put(chunk):
                return
            if len(chunk) < want:
                break
            left -= want
        put(None)

    with _SHORT_SWITCH_INTERVAL:
        thread = threading.Thread(target=produce, name="dx-read-ahead", daemon=True)
        thread.start()
        try:
            while (got := ready.get()) is not None:
                if isinstance(got, BaseException):
                    raise got
                yield from got
        finally:
            stop.set()
            thread.join()


class _ShortSwitchInterval:
    """Lowers the process's GIL switch interval while at least one read-ahead thread runs.

    ``sys.setswitchinterval`` is process-wide, so it is scoped by a count: the first read-ahead to start
    saves the interval and lowers it, the last to end restores it (downloads may overlap, e.g. the local
    runner's parallel subscriber checks, and one ending must neither restore it under another nor leave
    it lowered for good).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, _SWITCH_INTERVAL))
            self._running += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                sys.setswitchinterval(self._saved)


_SHORT_SWITCH_INTERVAL = _ShortSwitchInterval()
