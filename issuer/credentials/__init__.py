"""Credentials and their status: issue, read, suspend, reinstate, revoke; publish the lists.

:mod:`~issuer.credentials.service` holds the rules (:class:`IssuerService`, HTTP-free: issuance,
status changes, status lists, keys, API clients, DID documents); the ``routes``,
``verification``, ``publication`` and ``admin`` modules its HTTP routes.
"""
