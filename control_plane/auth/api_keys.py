"""API key format and hashing.

A key reads `cpk_<prefix>_<secret>`: the 8-character prefix is stored in clear so people can tell
keys apart in lists; the 40-character secret has 238 bits of entropy, so a single SHA-256 of the
whole key is enough (a slow password hash protects low-entropy secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

KEY_SCHEME = "cpk"
_ALPHABET = string.ascii_letters + string.digits
PREFIX_LENGTH = 8
SECRET_LENGTH = 40


@dataclass(frozen=True)
class NewKey:
    prefix: str
    plaintext: str
    secret_hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    plaintext = f"{KEY_SCHEME}_{prefix}_{secret}"
    return NewKey(prefix=prefix, plaintext=plaintext, secret_hash=hash_key(plaintext))


def prefix_of(plaintext: str) -> str | None:
    parts = plaintext.split("_")
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != PREFIX_LENGTH:
        return None
    return parts[1]


def matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), secret_hash)
