"""Storage: the index database and the evidence directories on disk."""
