"""DPoP (RFC 9449): proofs, the request guard, nonces, settings and request URLs."""
