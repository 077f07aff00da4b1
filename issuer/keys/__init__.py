"""Custody of the institutions' signing keys: encrypted key files, or an HSM over PKCS#11.

The private key never leaves its store: callers get a :class:`verifier.Signer`.
"""
