"""Pure analysis of stored checks: the diff against the previous check, drift ages, baselines."""
