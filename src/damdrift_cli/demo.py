"""``damdrift check --demo``'s publisher: one identity across runs, data that moves a little each run.

A real publisher keeps its host and port, so its history (baselines, NEW/RESOLVED, the trend) builds up
run after run; the demo does the same. It listens on :data:`DEMO_PORT` (another port, with a warning,
only when that one is taken), and its drifted subscriber's counts change a little with the run number
(seeded, so a given run is the same everywhere): records keep their ids by index, so a count that grows
adds NEW records and one that shrinks RESOLVES some.
"""

from __future__ import annotations

import random
from pathlib import Path

from damdrift.report_layout import ROOT
from damdrift_cli.simulator import Scenario, load_scenario
from damdrift_cli.simulator.scenario import DriftRange, SubscriberSpec

#: WebSphere Portal's classic HTTP port, which a DX administrator will recognise; loopback only.
DEMO_PORT = 10039
DEMO_HOST = "127.0.0.1"
#: How many (record type, action) counts move from one run to the next, and by how much at most.
_MOVES, _STEP = 4, 3


def run_number(out: Path, port: int) -> int:
    """1 for the first demo check in ``out``, then 2, 3, ...: earlier checks of the demo publisher + 1."""
    runs = {
        path.parent.name
        for path in (out / ROOT / f"{DEMO_HOST}_{port}").glob("*/*/*/*/*/summary.json")
        if not path.parent.name.endswith("-verify")  # a remediation's verifying check is not a run
    }
    return 1 + len(runs)


def demo_scenario(run: int) -> Scenario:
    """The default scenario, its drift moved a little for runs after the first (seeded by ``run``)."""
    scenario = load_scenario("default")
    if run <= 1:
        return scenario
    rng = random.Random(run)  # nosec B311: seeded demo data, nothing secret
    return scenario.model_copy(update={"subscribers": [_moved(spec, rng) for spec in scenario.subscribers]})


def _moved(spec: SubscriberSpec, rng: random.Random) -> SubscriberSpec:
    """A few of the subscriber's ranges resolve their first records and gain new ones at the end."""
    if not spec.drift or spec.find_outcome != "complete":
        return spec
    drift = {rtype: dict(actions) for rtype, actions in spec.drift.items()}
    cells = sorted((rtype, action) for rtype, actions in drift.items() for action in actions)
    for rtype, action in rng.sample(cells, min(_MOVES, len(cells))):
        old = drift[rtype][action]
        resolved = rng.randint(0, min(_STEP, old.count - 1))
        added = rng.randint(0, _STEP)
        drift[rtype][action] = DriftRange(count=old.count - resolved + added, start=old.start + resolved)
    return spec.model_copy(update={"drift": drift})
