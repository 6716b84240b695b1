"""One module per collection (plus graph and stats): request model in, reply `data` out."""
