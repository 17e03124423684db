"""The `registry` command: serve, migrate, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from registry import identity
from registry.auth import Actor, InvalidToken, Role, check_actor, issue_token, load_key
from registry.config import Settings
from registry.federation.log import Sealer
from registry.federation.node import NodeError, describe, prepare, private_key, resolve_region
from registry.federation.regulators import split_list


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(data_dir=Path(args.data_dir)) if getattr(args, "data_dir", None) else Settings()


def _database_url(settings: Settings) -> str:
    from registry.db import start_embedded

    return settings.database_url or start_embedded(settings.data_dir)


def migrate(args: argparse.Namespace) -> None:
    from registry.migrate import upgrade

    upgrade(_database_url(_settings(args)))
    print("migrations applied", file=sys.stderr)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from registry.app import create_app
    from registry.db import Database, make_engine, stop_embedded
    from registry.migrate import upgrade

    settings = _settings(args)
    try:
        region = resolve_region(settings.data_dir, args.region or os.environ.get("REGISTRY_NODE_REGION"))
        identity_file = Path(args.identity_key_file) if args.identity_key_file else settings.identity_key_file
        url = _database_url(settings)
        upgrade(url)
        asyncio.run(_prepare(url, settings.data_dir, region, identity_file))
    except NodeError as exc:
        sys.exit(f"registry serve: {exc}")
    settings = settings.model_copy(update={"node_region": region})
    app = create_app(settings, Database(make_engine(url)), on_shutdown=stop_embedded)
    token = issue_token(load_key(settings.keys_dir, "token.key"), Actor(Role.NATIONAL), ttl=timedelta(days=1))
    base = f"http://{args.host}:{args.port}"
    print(
        f"registry node {settings.node_region} on {base}\n"
        f"GraphiQL: {base}/graphql  (add the header  Authorization: Bearer <token>)\n"
        f"a national token, valid one day:\n{token}",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level=args.log_level)


async def _prepare(url: str, data_dir: Path, region: str, identity_file: Path | None) -> None:
    from registry.db import Database, make_engine

    db = Database(make_engine(url))
    try:
        await prepare(db, data_dir, region, identity_file)
    finally:
        await db.dispose()


def node_key(args: argparse.Namespace) -> None:
    settings = _settings(args)
    try:
        info = describe(settings.data_dir, args.region or os.environ.get("REGISTRY_NODE_REGION"))
    except NodeError as exc:
        sys.exit(f"registry node-key: {exc}")
    print(json.dumps(info))


def identity_key(args: argparse.Namespace) -> None:
    print(identity.encode(identity.load_or_create(_settings(args).keys_dir)))


def peer(args: argparse.Namespace) -> None:
    from registry.db import Database, make_engine
    from registry.federation import peers

    settings = _settings(args)
    region = resolve_region(settings.data_dir, None)

    async def run() -> list[str]:
        db = Database(make_engine(_database_url(settings)))
        db.before_commit = Sealer(region, private_key(settings.data_dir))
        try:
            if args.peer_command == "add":
                return [await peers.add(db, own_region=region, region=args.region, url=args.url, key=args.key)]
            return [json.dumps(p) for p in await peers.listing(db)]
        finally:
            await db.dispose()

    try:
        for line in asyncio.run(run()):
            print(line)
    except peers.PeerError as exc:
        sys.exit(f"registry peer {args.peer_command}: {exc}")


def regulator(args: argparse.Namespace) -> None:
    from registry.federation.regulators import regulator_add_command, regulator_list_command
    from registry.migrate import upgrade

    url = _database_url(_settings(args))
    upgrade(url)  # a regulator can be added before the node's first start
    if args.regulator_command == "add":
        sys.exit(
            regulator_add_command(
                url, name=args.name, url=args.url, secret=args.secret, categories=args.categories, regions=args.regions
            )
        )
    sys.exit(regulator_list_command(url))


def token(args: argparse.Namespace) -> None:
    settings = _settings(args)
    actor = Actor(Role(args.role), region=args.region, institution=args.institution, practitioner=args.practitioner)
    try:
        check_actor(actor)
    except InvalidToken as exc:
        sys.exit(f"registry token: {exc}")
    ttl = timedelta(hours=args.hours) if args.hours else settings.token_ttl
    print(issue_token(load_key(settings.keys_dir, "token.key"), actor, ttl=ttl))


def export_schema(args: argparse.Namespace) -> None:
    from registry.api.schema import schema

    sdl = schema.as_str() + "\n"
    if args.output:
        Path(args.output).write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="registry", description="Practitioner demerit-point registry node")
    sub = parser.add_subparsers(dest="command", required=True)
    data_dir_help = "the node's folder: keys, and the embedded PostgreSQL when REGISTRY_DATABASE_URL is unset"

    p = sub.add_parser("serve", help="apply migrations and serve GraphQL at /graphql")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    p.add_argument("--log-level", default="info")
    p.add_argument("--region", help="the region this node speaks for: 000000 (national) or a province such as 520000")
    p.add_argument("--identity-key-file", help="the network's identity key (base64), shared by every node")
    p.set_defaults(func=serve)

    p = sub.add_parser("node-key", help="print this node's region and Ed25519 public key as JSON")
    p.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    p.add_argument("--region", help="the region, when not yet recorded by a first start")
    p.set_defaults(func=node_key)

    p = sub.add_parser("identity-key", help="print the key resident-ID digests are made with (a secret)")
    p.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    p.set_defaults(func=identity_key)

    p = sub.add_parser("peer", help="the nodes this node follows and answers")
    peer_sub = p.add_subparsers(dest="peer_command", required=True)
    q = peer_sub.add_parser("add", help="follow the node at URL, which speaks for REGION with KEY")
    q.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    q.add_argument("--region", required=True)
    q.add_argument("--url", required=True)
    q.add_argument("--key", required=True, help="the peer's public key, as `registry node-key` prints it")
    q.set_defaults(func=peer)
    q = peer_sub.add_parser("list", help="print the peers, one JSON object a line")
    q.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    q.set_defaults(func=peer)

    p = sub.add_parser("migrate", help="apply the Alembic migrations")
    p.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    p.set_defaults(func=migrate)

    p = sub.add_parser("token", help="print a bearer token signed with the node's key")
    p.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--region")
    p.add_argument("--institution")
    p.add_argument("--practitioner")
    p.add_argument("--hours", type=int, help="validity (default: REGISTRY_TOKEN_TTL_HOURS, 30 days)")
    p.set_defaults(func=token)

    p = sub.add_parser("regulator", help="webhook receivers told of every sanction change")
    reg_sub = p.add_subparsers(dest="regulator_command", required=True)
    q = reg_sub.add_parser("add", help="add a regulator, or replace the settings of the one with that name")
    q.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    q.add_argument("--name", required=True)
    q.add_argument("--url", required=True, help="the http(s) URL the changes are POSTed to")
    q.add_argument("--secret", required=True, help="whsec_<base64>, or any other text used as raw bytes")
    q.add_argument("--categories", required=True, type=split_list, help="C1,C2,...: practitioner categories")
    q.add_argument("--regions", type=split_list, help="P1,P2,...: region-code prefixes of 2, 4 or 6 digits")
    q.set_defaults(func=regulator)
    q = reg_sub.add_parser("list", help="print the regulators, one JSON object a line (secrets left out)")
    q.add_argument("--data-dir", default=os.environ.get("REGISTRY_DATA_DIR", ".data/node"), help=data_dir_help)
    q.set_defaults(func=regulator)

    p = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it with --output)")
    p.add_argument("--output")
    p.set_defaults(func=export_schema)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
