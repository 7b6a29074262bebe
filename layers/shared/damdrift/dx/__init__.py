"""Everything that speaks HCL DX's HTTP API."""
