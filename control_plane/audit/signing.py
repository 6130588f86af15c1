"""Ed25519 signatures over canonical JSON documents (export manifests, checkpoints).

A document is signed over its canonical JSON (sorted keys, no spaces, UTF-8) without its
`signature` member, so a verifier needs only the document and the public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from control_plane.errors import Unavailable

ALGORITHM = "ed25519"


class SignatureInvalid(Exception):
    """The document was changed after signing, or signed by another key."""


def canonical_json(document: dict[str, Any]) -> bytes:
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the whole signed document (signature included): what a successor names."""
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key in documents."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key from PEM; a private key's PEM gives its public half."""
    try:
        if b"PRIVATE KEY" in pem:
            private = serialization.load_pem_private_key(pem, password=None)
            key = private.public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise ValueError(f"not a PEM key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the key is not an Ed25519 key")
    return key


def generate_key_file(path: Path) -> bool:
    """Write a new private key to `path` unless one is there; True if written. Atomic: two
    processes starting at once end up with the same key (the loser's link fails)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, pem)
        os.close(handle)
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def signing_key() -> Ed25519PrivateKey:
    """The configured private key. The embedded default path (RUN_DIR/audit-signing.pem) is
    created on first use so `make run` and a fresh clone sign without setup; a path set in
    AUDIT_SIGNING_KEY_FILE is never created: a missing production key is an error, not a new
    identity."""
    path = Path(settings.AUDIT_SIGNING_KEY_FILE)
    if settings.AUDIT_SIGNING_KEY_GENERATE:
        generate_key_file(path)
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise Unavailable(
            f"The audit signing key cannot be read from {path} (AUDIT_SIGNING_KEY_FILE): "
            f"{error.strerror}."
        ) from error
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Unavailable(f"The audit signing key in {path} is not an Ed25519 key.")
    return key


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The document with a `signature` member over the rest of it."""
    value = key.sign(canonical_json(document))
    return {
        **{name: item for name, item in document.items() if name != "signature"},
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(key.public_key()),
            "value": base64.b64encode(value).decode(),
        },
    }


def verify(document: dict[str, Any], key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless `document` carries a valid signature by `key`."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise SignatureInvalid("the document has no Ed25519 signature")
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        key.verify(value, canonical_json(document))
    except (InvalidSignature, ValueError) as error:
        named = signature.get("key_id")
        raise SignatureInvalid(
            f"the signature does not verify with public key {key_id(key)}"
            f"{'' if named == key_id(key) else f' (the document names key {named})'}: "
            "the document was changed after signing or signed by another key"
        ) from error
