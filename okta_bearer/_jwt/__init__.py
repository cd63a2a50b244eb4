"""The token path: compact JWS, JWKs, claims, validation rules and TokenVerifier."""
