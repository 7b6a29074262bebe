"""One module per state of the drift-check state machine; each handler calls exactly one function here."""
