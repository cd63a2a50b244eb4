"""The testing kit's parts; okta_bearer.testing is its public face."""
