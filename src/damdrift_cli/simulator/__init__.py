"""A DX publisher (and subscriber DAMs) speaking the wire protocol of ../shared/dx-api.md over real HTTP."""

from damdrift_cli.simulator.clock import ManualClock
from damdrift_cli.simulator.dataset import Drift, record_id
from damdrift_cli.simulator.faults import ActiveFault, Fault
from damdrift_cli.simulator.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario
from damdrift_cli.simulator.server import Exchange, Simulator, SubscriberDam

__all__ = [
    "ActiveFault",
    "Drift",
    "Exchange",
    "Fault",
    "ManualClock",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "SubscriberDam",
    "builtin_scenarios",
    "load_scenario",
    "record_id",
]
