"""What every ``okta-bearer`` command shares: defaults, exit statuses and CLIError."""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_ISSUER_PORT = 9400
DEFAULT_API_PORT = 9401
DEFAULT_SPA_PORT = 9402
DEFAULT_PATH = "/oauth2/default"
DEFAULT_ISSUER = f"http://{DEFAULT_HOST}:{DEFAULT_ISSUER_PORT}{DEFAULT_PATH}"
DEFAULT_AUDIENCE = "api://default"
DEMO_CLIENT_ID = "0oademospa0client0id"

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class CLIError(Exception):
    """A failure reported as one line on stderr with an exit status."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status
