"""Discovery, JWKS fetching and caching, and key sets shared by a fleet."""
