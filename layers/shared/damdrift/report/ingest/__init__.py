"""DX's mismatch log into local files and the bucket: written, keyed, stored in checkpointed parts."""
