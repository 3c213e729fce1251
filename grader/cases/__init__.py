"""Test cases: the model, generation from the reference, hidden seeds, and the public store."""
