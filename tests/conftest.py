"""Shared test setup: the DX simulator's fixtures (dx_simulator, dx_simulator_factory, dx_session)."""

pytest_plugins = ["damdrift_cli.simulator.pytest_plugin", "tests.listener", "tests.drift_checks"]
