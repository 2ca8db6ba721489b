"""Evidence: manifests, hashes and verification of stored captures."""
