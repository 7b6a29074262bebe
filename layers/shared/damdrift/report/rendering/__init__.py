"""Text and HTML made from a check: the report page, the overview, the notices, chat, the next steps."""
