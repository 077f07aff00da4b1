"""Enrolment: the rows institutions send, checked field by field, and bulk issuance of a file.

:mod:`~issuer.enrolment.rows` reads and checks rows, :mod:`~issuer.enrolment.bulk` runs a file
(resumable, idempotent), :mod:`~issuer.enrolment.batch` issues a chunk with signing workers.
"""
