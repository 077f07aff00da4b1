"""Shared HTTP plumbing: problem details, API-key authentication, hardening, shared parameters.

Every domain's routes import it; it imports no domain (:mod:`issuer.app` mounts the routers).
"""
