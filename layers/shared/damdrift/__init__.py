"""dam-drift's shared library: the DX client, the check steps and the report logic (the Lambda layer)."""
