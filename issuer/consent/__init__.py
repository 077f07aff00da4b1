"""Consent and record exchange: grants, judicial orders, access decisions and the access log.

:mod:`~issuer.consent.service` decides (HTTP-free, every decision in the audit chain);
:mod:`~issuer.consent.routes` and :mod:`~issuer.consent.records` are its HTTP routes.
"""
