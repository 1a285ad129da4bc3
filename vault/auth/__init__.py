"""Caller identity: API keys, roles and tenants."""
