"""OpenID for Verifiable Credential Issuance 1.0 (pre-authorized code): how wallets receive.

:mod:`~issuer.oid4vci.flow` is the flow (HTTP-free), :mod:`~issuer.oid4vci.key_proof` checks the
wallet's key proof, :mod:`~issuer.oid4vci.routes` the HTTP endpoints.
"""
