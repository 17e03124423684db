"""A node's own identity in the network: the region it speaks for (recorded at its first start) and its Ed25519
key pair (created in its data directory on first use; the private key never leaves it)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from registry import identity
from registry.db import Database
from registry.federation.envelope import is_node_region
from registry.federation.keys import load_or_create_private_key, public_key_b64
from registry.federation.models import NodeSetting
from registry.practitioners.models import Practitioner

NATIONAL = "000000"
RECORD = "node.json"


class NodeError(ValueError):
    """A node identity problem an operator must fix; the message says how."""


def recorded_region(data_dir: Path) -> str | None:
    path = data_dir / RECORD
    if not path.exists():
        return None
    region = json.loads(path.read_text(encoding="utf-8")).get("region")
    return str(region) if region else None


def resolve_region(data_dir: Path, given: str | None) -> str:
    """The region this node serves: as given, else as recorded, else national. A node never changes region:
    its log, keys and data speak for one jurisdiction."""
    recorded = recorded_region(data_dir)
    if given is not None and not is_node_region(given):
        raise NodeError(f"{given!r} is not a node region: 000000 (national) or a province code such as 520000")
    if given and recorded and given != recorded:
        raise NodeError(f"{data_dir} serves region {recorded}; it cannot start as {given}")
    return given or recorded or NATIONAL


def record_region(data_dir: Path, region: str) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / RECORD
    if recorded_region(data_dir) is None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"region": region}) + "\n", encoding="utf-8")
        tmp.replace(path)


def private_key(data_dir: Path) -> Ed25519PrivateKey:
    return load_or_create_private_key(data_dir / "keys" / "node.key")


def describe(data_dir: Path, given: str | None) -> dict[str, str]:
    """What `registry node-key` prints."""
    return {"region": resolve_region(data_dir, given), "publicKey": public_key_b64(private_key(data_dir))}


async def prepare(db: Database, data_dir: Path, region: str, identity_key_file: Path | None) -> None:
    """Check and record, before serving, that this database belongs to this node and its identity key.

    Refuses (NodeError) a database recorded for another region, and an identity key other than the one the stored
    registrations were hashed with: digests made with two keys would split one person in two.
    """
    keys_dir = data_dir / "keys"
    async with db.transaction() as session:
        settings = dict((await session.execute(select(NodeSetting.key, NodeSetting.value).with_for_update())).all())
        if settings.get("region", region) != region:
            raise NodeError(f"this database belongs to the node of region {settings['region']}, not {region}")
        stored = settings.get("identity_fingerprint")
        if identity_key_file is None and stored is not None and not (keys_dir / identity.FILE).exists():
            raise NodeError(
                f"{keys_dir} has no identity key, and this database was set up with one: copy DATA_DIR/keys/ from a "
                "machine that serves this database (see the README, several machines)"
            )
        key = identity.read_file(identity_key_file) if identity_key_file else identity.load_or_create(keys_dir)
        if stored is None and await session.scalar(select(Practitioner.code).limit(1)) is not None:
            stored = identity.fingerprint(identity.load_or_create(keys_dir))  # registered before fingerprints
        if stored is not None and stored != identity.fingerprint(key):
            raise NodeError(
                f"the identity key {'in ' + str(identity_key_file) if identity_key_file else 'of ' + str(keys_dir)} "
                "differs from the key the stored registrations were hashed with; start with the original key"
            )
        for name, value in (("region", region), ("identity_fingerprint", identity.fingerprint(key))):
            await session.execute(
                insert(NodeSetting)
                .values(key=name, value=value)
                .on_conflict_do_update(index_elements=["key"], set_={"value": value})
            )
    identity.install(keys_dir, key)
    record_region(data_dir, region)
