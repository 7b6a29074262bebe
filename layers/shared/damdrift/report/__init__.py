"""Mismatch reports: record normalisation, streaming writers, summaries and notification text."""
