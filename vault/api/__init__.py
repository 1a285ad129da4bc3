"""The HTTP face: thin FastAPI routers over the use cases, errors as RFC 9457 problem details."""
