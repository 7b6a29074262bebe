"""Opt-in remediation: start a staging resync, watch it finish on the subscriber, verify with a find."""
