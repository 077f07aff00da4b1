"""The signed trust bundle (ADR 0004): built from the issuer database, signed by anchor keys."""
