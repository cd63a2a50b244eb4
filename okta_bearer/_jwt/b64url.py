"""Unpadded base64url (RFC 7515 section 2), decoded strictly: one spelling per value.

Tokens and DPoP proofs are read with :func:`decode`.  It accepts exactly the
canonical unpadded encoding: only the base64url alphabet, no ``=``, no
whitespace, and zero spare bits in the last character (RFC 4648 section 3.5).
Anything else would let one token be written several ways (a different cache
key, a different ``ath``) and is refused.

It runs on every request, so the whole check is two C passes: a translation
that maps the base64url alphabet onto the standard one and every other byte
(``+``, ``/``, ``=`` included) onto one the codec refuses, then
``binascii.a2b_base64`` in strict mode (Python 3.11), which refuses any byte
outside the alphabet.
"""

from __future__ import annotations

import binascii

__all__ = ["CANONICAL_LAST", "decode"]

# '-' and '_' become '+' and '/'; the standard alphabet's own '+', '/' and the
# pad '=' become '*', which strict decoding refuses like any other stray byte.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/***")
# The padding that completes a segment of each length modulo 4 (1 is never valid).
_PAD = (b"", b"", b"==", b"=")

#: RFC 4648 section 3.5: in canonical encoding the bits after the last full
#: byte are zero.  With 2 characters left over (4 spare bits) the last one
#: must be one of these; with 3 left over (2 spare bits), one of the second set.
CANONICAL_LAST = {
    2: frozenset(b"AQgw"),
    3: frozenset(b"AEIMQUYcgkosw048"),
}


def decode(segment: bytes) -> bytes:
    """The bytes ``segment`` encodes, if it is canonical unpadded base64url.

    Raises:
        ValueError: (``binascii.Error``) anything else: an empty segment, a
            byte outside the base64url alphabet, padding, a length of 1
            modulo 4, or non-zero spare bits.
    """
    rest = len(segment) % 4
    if rest == 1 or not segment or (rest and segment[-1] not in CANONICAL_LAST[rest]):
        raise binascii.Error("not canonical unpadded base64url")
    return binascii.a2b_base64(segment.translate(_TO_STANDARD) + _PAD[rest], strict_mode=True)
