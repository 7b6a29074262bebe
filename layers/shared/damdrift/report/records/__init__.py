"""A report's records: reading DX's fields, their identities and key files, the ignore rules - what ingest
and analysis share."""
