"""How the DX client talks to DX: timeouts, retries, byte caps, the trigger requests.

Its own module, free of ``requests``, so that the functions' settings (damdrift.settings) can build it
without loading the HTTP stack into functions that never talk to DX.
"""

from __future__ import annotations

from dataclasses import dataclass

from damdrift.dx.trigger import FIND_MISMATCH_DEFAULT, RESYNC_DEFAULT, TriggerRequest


@dataclass(frozen=True)
class ClientTuning:
    """Transport knobs. Defaults suit a Lambda talking to a DX ingress; tests shrink the backoff."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff_factor: float = 0.5
    backoff_max: float = 20.0
    backoff_jitter: float = 0.5
    page_size: int = 1000
    #: Most bytes one response may have (after any decompression); a 1,000-record page measures ~0.27 MiB.
    max_response_bytes: int = 8 * 1024 * 1024
    #: Most bytes of an answer expected to be small: the login, logout, the subscriber list (~350 bytes a
    #: subscriber: room for ~3,000), one subscriber, a trigger. JSON can take ~26x its size in memory
    #: (``[{},{},…]``), and the functions that make these calls have 256 MB.
    max_small_response_bytes: int = 1024 * 1024
    #: Most JSON objects and arrays in a list of operations (ordinary ones hold ~3 each), counted before
    #: the answer is parsed; a mismatch page may hold 16 per record asked for. A flood of ``{}`` is the
    #: costliest JSON there is per byte: 8 MiB of it parse into ~220 MiB.
    max_json_containers: int = 100_000
    #: Most seconds one request may take from sending to its last body byte (a drip-fed body fails).
    request_deadline: float = 120.0
    #: Longest ``Retry-After`` honoured (urllib3's own cap is 6 hours).
    retry_after_max: int = 10
    find_mismatch_request: TriggerRequest = FIND_MISMATCH_DEFAULT
    resync_request: TriggerRequest = RESYNC_DEFAULT
