"""Sites: the child clouds, their registry, and one async client per site."""
