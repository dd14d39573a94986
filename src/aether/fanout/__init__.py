"""Fan-out: one capture and one encode, a bounded branch per viewer."""
