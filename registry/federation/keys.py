"""The node's Ed25519 key pair: created once in the data directory, never leaves it; peers know it by base64."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def load_or_create_private_key(path: Path | str) -> Ed25519PrivateKey:
    """The key in path (PEM, or the 32 raw bytes), or a new one written there as PEM with mode 0600.

    A folder it creates gets mode 0700. An existing folder keeps its mode: it may be the data directory, which the
    embedded PostgreSQL's own user must still be able to enter. Creation is atomic and never replaces a key: of two
    processes starting at once, both end up with the one key that reached the disk first.
    """
    path = Path(path)
    try:
        return _load(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    _make_private_folder(path.parent)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the name exists, where a rename would replace
        except FileExistsError:
            return _load(path.read_bytes(), path)
    finally:
        os.unlink(tmp)
    _fsync_folder(path.parent)
    return key


def _make_private_folder(folder: Path) -> None:
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for p in missing:
        p.chmod(0o700)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a folder; the key file itself is synced
            os.fsync(fd)
    finally:
        os.close(fd)


def _load(data: bytes, path: Path) -> Ed25519PrivateKey:
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:  # TypeError: an encrypted key
            raise ValueError(f"{path}: not a readable PEM private key ({e})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: holds a {type(key).__name__}, not an Ed25519 key")
        return key
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    raise ValueError(f"{path}: not an Ed25519 private key (PEM, or 32 raw bytes; found {len(data)} bytes)")


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as peers are told it: standard base64 of its 32 raw bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return base64.b64encode(public.public_bytes_raw()).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A peer's public key from base64 (surrounding whitespace ignored); ValueError says what is wrong."""
    text = text.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not standard base64 (A-Z, a-z, 0-9, +, / and = padding)") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes; this base64 holds {len(raw)}")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as e:
        raise ValueError(f"not an Ed25519 public key: {e}") from None
