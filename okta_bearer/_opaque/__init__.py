"""Opaque tokens (RFC 7662 introspection), client authentication, several issuers."""
