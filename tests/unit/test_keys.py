"""The node's key pair on disk, and peers' public keys as operators paste them."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.federation.keys import load_or_create_private_key, parse_public_key, public_key_b64


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_is_created_once_then_loaded(tmp_path: Path) -> None:
    path = tmp_path / "node" / "keys" / "node.key"
    key = load_or_create_private_key(path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700
    again = load_or_create_private_key(str(path))
    assert public_key_b64(again) == public_key_b64(key)
    assert [p.name for p in path.parent.iterdir()] == ["node.key"]  # no temporary file left behind
    # It signs what its public key verifies.
    parse_public_key(public_key_b64(key)).verify(key.sign(b"m"), b"m")


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    load_or_create_private_key(tmp_path / "node.key")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "node.key") == 0o600


def test_a_raw_32_byte_key_file_loads(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "raw.key"
    path.write_bytes(key.private_bytes_raw())
    assert public_key_b64(load_or_create_private_key(path)) == public_key_b64(key)
    assert path.read_bytes() == key.private_bytes_raw()  # left as it was


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "node.key"
    barrier = threading.Barrier(8)
    found: list[str] = []

    def start() -> None:
        barrier.wait()
        found.append(public_key_b64(load_or_create_private_key(path)))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 8
    assert set(found) == {public_key_b64(load_or_create_private_key(path))}
    assert [p.name for p in path.parent.iterdir()] == ["node.key"]


def _pem(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "found 0 bytes"),
        (b"not a key at all\n", "not an Ed25519 private key"),
        (bytes(31), "found 31 bytes"),
        (b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n", "not a readable PEM"),
        (_pem(Ed25519PrivateKey.generate(), b"secret"), "not a readable PEM"),
        (_pem(ec.generate_private_key(ec.SECP256R1())), "not an Ed25519 key"),
    ],
)
def test_a_file_that_holds_no_ed25519_key_is_refused_and_kept(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_or_create_private_key(path)
    assert path.read_bytes() == content


def test_public_keys_round_trip_through_base64() -> None:
    key = Ed25519PrivateKey.generate()
    text = public_key_b64(key)
    assert len(base64.b64decode(text)) == 32
    assert public_key_b64(key.public_key()) == text
    assert public_key_b64(parse_public_key(text)) == text
    assert public_key_b64(parse_public_key(f"  {text}\n")) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "32 bytes; this base64 holds 0"),
        ("not base64!", "not standard base64"),
        (base64.b64encode(bytes(31)).decode(), "holds 31"),
        (base64.b64encode(bytes(33)).decode(), "holds 33"),
        (base64.b64encode(bytes(64)).decode(), "holds 64"),
        (base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), "not standard base64"),
        ("公钥", "not standard base64"),
    ],
)
def test_a_malformed_public_key_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_public_key(text)
