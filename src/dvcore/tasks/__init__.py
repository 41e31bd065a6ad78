"""Tasks: what is learned from a batch, and how it is evaluated."""
