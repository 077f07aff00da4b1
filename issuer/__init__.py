"""The institution's side: the issuer service (FastAPI) and ``credencial-issuer``.

It builds on :mod:`verifier`, which computes the signed bytes; this package adds private keys,
storage and the HTTP API. One package per domain, each holding its rules, its storage access and
its routes: ``credentials`` (issue, status changes, status lists), ``consent`` (grants, judicial
orders, record exchange, the access log), ``oid4vci``, ``enrolment`` (rows, bulk), ``keys``
(key files, HSM), ``cards`` (the printed card), ``trust`` (the trust bundle), ``units`` and
``biometrics``; over ``http`` (problems, authentication, hardening; it imports no domain) and
``storage`` (engine, tables, migrations, the audit chain). :mod:`issuer.app` mounts every
domain's routes; :mod:`issuer.cli` is the command line.
"""

from issuer.credentials.signing import (
    STATUS_LIST_SIZE,
    STATUS_PURPOSES,
    new_coverage_credential,
    new_status_list_credential,
    random_status_index,
    sign_document,
)
from issuer.institutions import INSTITUTIONS, Institution
from issuer.keys.files import Ed25519KeyPair

__all__ = [
    "INSTITUTIONS",
    "STATUS_LIST_SIZE",
    "STATUS_PURPOSES",
    "Ed25519KeyPair",
    "Institution",
    "new_coverage_credential",
    "new_status_list_credential",
    "random_status_index",
    "sign_document",
]
