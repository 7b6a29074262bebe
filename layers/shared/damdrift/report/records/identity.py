"""What makes two mismatch records "the same record" in two runs: defined here and nowhere else.

A record's identity is ``(recordType, recordAction, recordId)``. The row's own ``id`` and its
``created``/``updated`` stamps change with every find (DX appends fresh rows), and the subscriber is the
report's own, so none of them say whether the *drift* is the same.

A million identities must fit in a small Lambda, so each is reduced to two 64-bit integers taken from
one blake2b-128 digest of the identity (held in ``array('Q')``, 16 bytes a record):

* the **key**: the (type, action) pair's 8-bit code in the top byte, then 56 bits of the digest. Sorting
  by key groups records by pair, so per-pair counts need no look-up; equal identities have equal keys.
* the **check**: the digest's other 64 bits. Two records are only taken to be the same when key *and*
  check agree; a key match with a different check is a detected hash collision, and the records count
  as different (see :mod:`damdrift.report.analysis.diff`). A false match needs both halves to collide.

Pair codes of DX's documented types and actions are fixed (1-36), so two runs agree on them; other
pairs (a newer DX) are numbered per run from 37 and a :class:`PairTable` maps codes back to names.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Iterable
from hashlib import blake2b
from typing import Any, Protocol

from damdrift.dx.models import RecordAction, RecordType
from damdrift.report.records.fields import field_value, record_action, record_type

Pair = tuple[str, str]

#: The code shared by every pair past the 255th (absurd for DX): their identities still compare
#: exactly, only their per-pair counts are lumped together under :data:`OTHER_PAIR`.
OVERFLOW_CODE = 255
OTHER_PAIR: Pair = ("(other)", "(other)")
CODE_SHIFT = 56
_LOW56 = (1 << CODE_SHIFT) - 1
_SEP = "\x1f"  # unit separator: cannot occur in DX's type/action names, so fields cannot run together

KNOWN_PAIRS: dict[Pair, int] = {
    (rtype.value, action.value): 1 + t * len(RecordAction) + a
    for t, rtype in enumerate(RecordType)
    for a, action in enumerate(RecordAction)
}
_FIRST_DYNAMIC_CODE = 1 + len(KNOWN_PAIRS)


def identity_text(record_type: str, record_action: str, record_id: object) -> str:
    """The identity as one string: what is hashed, and what an exact comparison compares."""
    if isinstance(record_id, str):
        return f"{record_type}{_SEP}{record_action}{_SEP}{record_id}"
    # null or a non-string id (DX should not send one): spelled as JSON after a NUL, so it can never
    # equal a string id that reads the same.
    return f"{record_type}{_SEP}{record_action}{_SEP}\x00{json.dumps(record_id, sort_keys=True)}"


def identity_digest(text: str) -> int:
    """The 128-bit blake2b digest of an identity as an integer (low 64 bits: key bits; high: check)."""
    # surrogatepass: a lone surrogate in a record id (see writer.py) must hash, not raise.
    return int.from_bytes(blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(), "little")


def record_key(code: int, digest: int) -> int:
    """The 64-bit sort key: the pair code on top of 56 bits of the digest."""
    return (code << CODE_SHIFT) | (digest & _LOW56)


def record_check(digest: int) -> int:
    """The 64-bit check that verifies a key match."""
    return digest >> 64


class PairTable:
    """Pair codes of one run: the fixed ones for DX's documented pairs, others numbered as first seen."""

    def __init__(self, dynamic: Iterable[tuple[int, Pair]] = ()) -> None:
        self._codes: dict[Pair, int] = dict(KNOWN_PAIRS)
        self._pairs: dict[int, Pair] = {code: pair for pair, code in KNOWN_PAIRS.items()}
        self._next = _FIRST_DYNAMIC_CODE
        for code, pair in dynamic:
            if not _FIRST_DYNAMIC_CODE <= code < OVERFLOW_CODE or pair in self._codes or code in self._pairs:
                raise ValueError(f"invalid pair code {code} for {pair}")
            self._codes[pair] = code
            self._pairs[code] = pair
            self._next = max(self._next, code + 1)

    def code(self, pair: Pair) -> int:
        """The pair's code, numbering a pair not seen before."""
        code = self._codes.get(pair)
        if code is None:
            if self._next >= OVERFLOW_CODE:
                return OVERFLOW_CODE
            code = self._codes[pair] = self._next
            self._pairs[code] = pair
            self._next += 1
        return code

    def pair(self, code: int) -> Pair:
        return self._pairs.get(code, OTHER_PAIR)

    def dynamic(self) -> list[tuple[int, Pair]]:
        """The codes given to pairs outside DX's documented ones (stored with a run's keys)."""
        return sorted((code, pair) for code, pair in self._pairs.items() if code >= _FIRST_DYNAMIC_CODE)


class ChunkSink(Protocol):
    """Takes the collected keys a chunk at a time (see :class:`damdrift.report.records.keyset.SortedRuns`)."""

    def add(self, keys: array[int], checks: array[int], first_line: int) -> None: ...


#: Records a :class:`KeyCollector` with a sink holds before it hands them over (1 MB of keys).
CHUNK_RECORDS = 1 << 16
#: Digests a :class:`KeyCollector` keeps as bytes before it turns them into keys and checks.
_BATCH = 1024


class KeyCollector:
    """Collects each record's key and check in record order.

    :class:`~damdrift.report.ingest.tracker.RecordTracker` feeds it while the report is written, so the
    current run's identities cost one hash per record and 16 bytes each, never a second read. With a
    ``sink``, every :data:`CHUNK_RECORDS` records go to the sink (sorted and spilled to disk) instead of
    staying here, so memory does not grow with the report: ``keys``/``checks`` then hold only the
    records since the last chunk, the first of them being record number :attr:`spilled`.

    Per record, :meth:`add` only hashes and keeps the 16-byte digest and the pair's code; every
    :data:`_BATCH` records the digests become keys and checks at C speed (the code put into each key's
    top byte by one slice assignment, both halves read by one ``array.frombytes``): a third less work a
    record than building the two integers one by one.
    """

    def __init__(
        self, pairs: PairTable | None = None, sink: ChunkSink | None = None, chunk: int = CHUNK_RECORDS
    ) -> None:
        self.pairs = pairs or PairTable()
        self.sink = sink
        self._keys = array("Q")
        self._checks = array("Q")
        #: Records handed to the sink so far (they are numbered 0 .. spilled - 1).
        self.spilled = 0
        self._chunk = chunk if sink is not None else -1
        # Records hashed but not yet in the arrays: digests, and their pair codes.
        self._digests: list[bytes] = []
        self._codes = bytearray()
        self._due = self._next_due()
        # Per pair: its code, and a blake2b already fed the identity's "type<US>action<US>" head, so a
        # record only hashes its id (a copy of the state is cheaper than hashing it again).
        self._heads: dict[Pair, tuple[int, Any]] = {}

    @property
    def keys(self) -> array[int]:
        """The keys held here (since the last chunk handed over), in record order."""
        self._settle()
        return self._keys

    @property
    def checks(self) -> array[int]:
        """The checks of :attr:`keys`, in the same order."""
        self._settle()
        return self._checks

    def __len__(self) -> int:
        return self.spilled + len(self._keys) + len(self._digests)

    def add(self, pair: Pair, record_id: object) -> None:
        """Add the record ``(pair, record_id)``; runs once per record, so it is kept to a few steps."""
        head = self._heads.get(pair)
        if head is None:
            head = self._heads[pair] = self._head(pair)
        state = head[1].copy()
        try:
            state.update(record_id.encode())  # type: ignore[attr-defined]
            digest = state.digest()
        except (AttributeError, UnicodeEncodeError):  # not a str, or a lone surrogate: the general path
            digest = identity_digest(identity_text(pair[0], pair[1], record_id)).to_bytes(16, "little")
        digests = self._digests
        digests.append(digest)
        self._codes.append(head[0])
        if len(digests) >= self._due:
            self._settle()
            if len(self._keys) == self._chunk:
                self.hand_over()

    def add_record(self, raw: dict[str, Any]) -> None:
        """Add a raw record as DX sent it (any accepted spelling of the fields)."""
        self.add((record_type(raw), record_action(raw)), field_value(raw, "recordId"))

    def hand_over(self) -> None:
        """Give the records held here to the sink (no-op without one, or with nothing held)."""
        self._settle()
        if self.sink is None or not self._keys:
            return
        self.sink.add(self._keys, self._checks, self.spilled)
        self.spilled += len(self._keys)
        self._keys, self._checks = array("Q"), array("Q")
        self._due = self._next_due()

    def _settle(self) -> None:
        """Turn the pending digests into keys and checks (the identity's definition in bytes: the key is
        the digest's low 64 bits, little-endian, with the pair code as its top byte; the check the high
        64 bits)."""
        digests = self._digests
        if digests:
            joined = bytearray(b"".join(digests))
            joined[7::16] = self._codes
            both = array("Q")
            both.frombytes(joined)
            if sys.byteorder != "little":
                both.byteswap()
            self._keys.extend(both[0::2])
            self._checks.extend(both[1::2])
            digests.clear()
            self._codes.clear()
        self._due = self._next_due()

    def _next_due(self) -> int:
        """Pending digests at which :meth:`add` settles them: a batch, or what completes the chunk."""
        if self._chunk < 0:
            return _BATCH
        return max(1, min(_BATCH, self._chunk - len(self._keys)))

    def _head(self, pair: Pair) -> tuple[int, Any]:
        state = blake2b(digest_size=16)
        state.update(f"{pair[0]}{_SEP}{pair[1]}{_SEP}".encode("utf-8", "surrogatepass"))
        return self.pairs.code(pair), state
