"""``okta-bearer``: verify and decode tokens, run the dev issuer and the demo.

``main(argv) -> int`` is the whole program, so tests call it in-process.  Exit
status: 0 success, 1 the token was rejected (or a request failed), 2 a usage or
configuration error, 3 the issuer could not be reached.
"""

from __future__ import annotations

from ._dev import examples_dir, load_example
from ._main import build_parser, main

__all__ = ["build_parser", "examples_dir", "load_example", "main"]
