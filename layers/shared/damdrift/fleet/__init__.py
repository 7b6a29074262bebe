"""The run as a whole: what the fleet step after the drift check's Map reads, writes and sends.

Each subscriber check leaves a small run-scoped record (:mod:`~damdrift.fleet.records`); the fleet step
(:mod:`damdrift.steps.summarise`) reads them once — O(n) reads, never n² — into one
:class:`~damdrift.fleet.run.RunSummary` (``run.json``), renders the publisher's overview once, and
composes the run's notices (:mod:`~damdrift.fleet.digest`). docs/operating.md describes the view.
"""
