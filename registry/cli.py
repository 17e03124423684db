"""The `registry` command: serve, migrate, token, export-schema, import, export."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

from registry.auth import Actor, InvalidToken, Role, check_actor, issue_token, load_key
from registry.config import Settings


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
    url = _database_url(settings)
    upgrade(url)
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
    p.set_defaults(func=serve)

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

    p = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it with --output)")
    p.add_argument("--output")
    p.set_defaults(func=export_schema)

    from registry.bulk.cli import add_commands as add_bulk_commands

    add_bulk_commands(sub, data_dir_help)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
