"""Mismatch reports: record normalisation, streaming writers, analysis, and the report's text and HTML."""
