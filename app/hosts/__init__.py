"""The hosts the service runs under: each adapts its own world to the same ASGI app."""
