"""Privacy: secrets from the environment, salted hashes, the suppression list, erasure."""
