"""The network's identity key: resident ID numbers are kept only as an HMAC with it, and every node of one
network hashes with the same key, so the same person has the same digest everywhere."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from pathlib import Path

FILE = "identity.key"
LEGACY_FILE = "id-hash.key"  # raw bytes, written by nodes before federation


def encode(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode(text: str, source: str) -> bytes:
    """A key as operators pass it around: one line of base64; surrounding whitespace is ignored."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{source} does not hold a base64 identity key") from None
    if len(key) < 16:
        raise ValueError(f"{source} holds a key of {len(key)} bytes; an identity key has at least 16")
    return key


def read_file(path: Path) -> bytes:
    try:
        return decode(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ValueError(f"cannot read the identity key file {path}: {exc.strerror}") from None


def fingerprint(key: bytes) -> str:
    """What the database records of the key its digests were made with (the key itself stays in the files)."""
    return hashlib.sha256(b"registry identity key\0" + key).hexdigest()


def load_or_create(keys_dir: Path) -> bytes:
    """The key in `keys_dir`, created on first use (a legacy raw key is kept and rewritten as base64)."""
    path = keys_dir / FILE
    if path.exists():
        return read_file(path)
    legacy = keys_dir / LEGACY_FILE
    install(keys_dir, legacy.read_bytes() if legacy.exists() else secrets.token_bytes(32))
    return read_file(path)


def install(keys_dir: Path, key: bytes) -> None:
    """Write `key` as the node's identity key (0600, atomically)."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    tmp = keys_dir / (FILE + ".tmp")
    tmp.write_text(encode(key) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(keys_dir / FILE)
