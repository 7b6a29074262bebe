"""dam-drift's tooling for people: the `damdrift` command, the DX simulator and the local runner."""
