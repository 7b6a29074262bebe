"""Runs the real state machine definition and the real handlers in-process against moto."""
