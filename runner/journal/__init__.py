"""The journal: append-only events. Runs and game days are views over them."""
