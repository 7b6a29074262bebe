"""The domain's models, at the bottom of the layer: a check's outcome (``summary``) and what a remediation
carries and records (``remediation``). Pydantic only, no I/O: storage, steps and rendering all read them."""
