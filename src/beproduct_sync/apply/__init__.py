"""Applying stored events: one apply service (batches; a single event is a batch of one), the
versioned writer, the worker loops and their supervisor, `ingest` and `replay`."""
