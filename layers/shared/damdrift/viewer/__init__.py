"""The report viewer: signed, expiring links to one check's report or one publisher's overview."""
