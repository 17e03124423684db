"""The `registry` command.

A subcommand is one function decorated with `@command`, with its options listed beside it: `setting(name)` for an
option that overrides a setting (registry.config.Settings supplies its help and default), `option(...)` for the
rest (argparse's arguments). A mistake the user can fix raises `Failure`: one line on stderr, exit status 1.

argparse rather than Typer: a subcommand stays a few declarative lines either way, and argparse (standard library)
prints a usage error as the one line we choose; Typer draws multi-line panels, and turning them off is no smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from prometheus_client.multiprocess import mark_process_dead
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from registry.auth import Actor, InvalidToken, Role, check_actor
from registry.config import MAX_TOKEN_HOURS, Settings, env_name, redact_url

if TYPE_CHECKING:
    from registry.db import Database

T = TypeVar("T")


class Failure(Exception):
    """A mistake the user can fix, said in one line."""


# --- declaring subcommands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    kwargs: dict[str, Any]


def option(*flags: str, **kwargs: Any) -> Option:
    """An argparse argument of one subcommand (give it a help=)."""
    return Option(flags, kwargs)


def setting(name: str, *flags: str, **kwargs: Any) -> Option:
    """An option that overrides the setting `name` (REGISTRY_NAME); help and default come from Settings."""
    field = Settings.model_fields[name]
    default = "one per CPU core" if field.default_factory else field.default
    return Option(
        flags or ("--" + name.replace("_", "-"),),
        {
            "dest": name,
            "default": argparse.SUPPRESS,  # absent: the environment's value, or the default
            "help": f"{field.description} (default: {env_name(name)}, else {default})",
            **kwargs,
        },
    )


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    run: Callable[[argparse.Namespace], None]


COMMANDS: dict[str, Command] = {}
# Commands that only hold subcommands ("registry audit verify"), with their help.
GROUPS: dict[str, str] = {
    "audit": "check and show the audit trail of every mutation",
    "peer": "the nodes this node follows and answers",
    "regulator": "the webhook receivers told of every sanction change",
}


def command(name: str, help: str, *options: Option) -> Callable[[Callable[[argparse.Namespace], None]], Any]:
    """A subcommand; "token revoke" is the subcommand `revoke` of `token` (declared after it) or of a group."""

    def register(run: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], None]:
        COMMANDS[name] = Command(name, help, options, run)
        return run

    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A usage mistake in one line (argparse would print the whole usage first)."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="registry", description="Practitioner demerit-point registry node")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers: dict[str, argparse.ArgumentParser] = {}
    nested: dict[str, Any] = {}
    for cmd in COMMANDS.values():
        parent, _, action = cmd.name.rpartition(" ")
        if parent and parent not in parsers:  # a group
            parsers[parent] = sub.add_parser(parent, help=GROUPS[parent], description=GROUPS[parent])
        if parent and parent not in nested:
            nested[parent] = parsers[parent].add_subparsers(
                dest="action", required=parent in GROUPS, metavar="ACTION", help="what to do (see below)"
            )
        p = (nested[parent] if parent else sub).add_parser(action, help=cmd.help, description=cmd.help)
        for opt in cmd.options:
            p.add_argument(*opt.flags, **opt.kwargs)
        p.set_defaults(run=cmd.run)
        parsers[cmd.name] = p
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except Failure as exc:
        name = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        print(f"registry {name}: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


# --- shared steps -----------------------------------------------------------------------------------------------


def load_settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name) for name in Settings.model_fields if hasattr(args, name)}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise Failure("; ".join(_explain(error, overrides) for error in exc.errors())) from None


def _explain(error: Any, overrides: dict[str, Any]) -> str:
    name = str(error["loc"][0]) if error["loc"] else "?"
    where = "--" + name.replace("_", "-") if name in overrides else env_name(name)
    value = error.get("input")
    if name in ("database_url", "read_database_url") and isinstance(value, str):
        value = redact_url(value)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}={value!r}: {message}" if isinstance(value, str | int | float) else f"{where}: {message}"


def private_dir(path: Path) -> None:
    """The node's folder holds its keys: only its owner may list or enter it (0700).

    Started by root, the embedded PostgreSQL runs as its own system user but keeps root's group: that group may
    then pass through (0710) to reach pg/, and nobody else.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        pg = path / "pg"
        if pg.exists() and pg.stat().st_uid != os.geteuid():
            os.chown(path, -1, os.getegid())
            path.chmod(0o710)
        else:
            path.chmod(0o700)
    except OSError as exc:
        raise Failure(f"cannot use the data directory {path}: {exc.strerror}") from None


def database_url(settings: Settings) -> str:
    """The configured database, or the embedded one (started now); either way reachable, or a Failure."""
    import psycopg

    from registry.db import libpq_url, start_embedded

    url = settings.database_url
    if url is None:
        try:
            url = start_embedded(settings.data_dir)
        except (subprocess.SubprocessError, OSError) as exc:
            log = settings.data_dir / "pg" / "log"
            raise Failure(f"the embedded PostgreSQL did not start ({exc}); see {log}") from None
        private_dir(settings.data_dir)  # the package widens it to let its server user in
    for target in (url, settings.read_database_url):  # the read database (a replica) too, when there is one
        if target is None:
            continue
        try:
            with psycopg.connect(libpq_url(target), connect_timeout=5):
                pass
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise Failure(f"cannot connect to the database {redact_url(target)}: {reason}") from None
    return url


def migrate_database(url: str) -> None:
    """Apply the migrations, and give a new node its first signing key: it is then set up."""
    from registry import tokens
    from registry.migrate import upgrade

    upgrade(url)
    on_database(url, tokens.ensure_key)


def on_database(url: str, work: Callable[[Database], Awaitable[T]], seal: Settings | None = None) -> T:
    """Run one piece of async work on the database at `url`; with `seal`, as that node (the facts the work logs are
    sealed and signed at commit, as a use case's are)."""
    from registry.db import Database, make_engine

    async def run() -> T:
        db = Database(make_engine(url))
        if seal is not None:
            from registry.federation.node import private_key
            from registry.federation.runtime import Federation

            Federation(node_region(seal), private_key(seal.data_dir)).seal(db)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def on_node(settings: Settings, work: Callable[[Database], Awaitable[T]], *, set_up: bool = False) -> T:
    """Run `work` on the database of this node, as this node. A folder or database where no node was ever set up
    is a Failure (and no embedded PostgreSQL is created for it), unless `set_up`: then the database is started and
    migrated first (a peer or a regulator may be added before the node's first start)."""
    import sqlalchemy.exc

    from registry.db import stop_embedded
    from registry.tokens import Refused

    if not set_up and settings.database_url is None and not (settings.data_dir / "pg" / "PG_VERSION").exists():
        folder = shlex.quote(str(settings.data_dir))
        raise Failure(
            f"no node was ever set up in {settings.data_dir}: start one there first (registry serve --data-dir "
            f"{folder}), or point REGISTRY_DATABASE_URL at a node's database"
        )
    try:
        url = database_url(settings)
        if set_up:
            migrate_database(url)
        return on_database(url, work, seal=settings)
    except sqlalchemy.exc.ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42P01":  # undefined_table
            raise Failure("no node was set up on this database: run `registry migrate` first") from None
        raise
    except Refused as exc:
        raise Failure(str(exc)) from None
    finally:
        stop_embedded()


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen now, so that a busy port is said before anything else happens."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not a busy port: only TIME_WAIT leftovers
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise Failure(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


class Supervisor(Multiprocess):
    """uvicorn's supervisor, which replaces a worker that dies; the dead worker's gauges (connections) go too."""

    def keep_subprocess_alive(self) -> None:
        before = {worker.pid for worker in self.processes}
        super().keep_subprocess_alive()
        for pid in before - {worker.pid for worker in self.processes}:
            if pid is not None:
                mark_process_dead(pid)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """Until the workers run, SIGTERM ends `serve` like Ctrl-C, so that the finally blocks stop PostgreSQL."""
    raise KeyboardInterrupt


# --- the commands -----------------------------------------------------------------------------------------------


@command(
    "serve",
    "apply migrations, then serve GraphQL at /graphql, metrics at /metrics and health at /healthz",
    setting("data_dir", metavar="DIR"),
    setting("host", metavar="ADDR"),
    setting("port", type=int, metavar="N"),
    setting("workers", type=int, metavar="N"),
    setting("log_level", choices=["debug", "info", "warning", "error"]),
    setting("log_format", choices=["json", "console"]),
    setting("node_region", "--region", metavar="CODE"),
    setting("identity_key_file", metavar="FILE"),
)
def serve(args: argparse.Namespace) -> None:
    from uvicorn import Config
    from uvicorn.config import STARTUP_FAILURE

    from registry.db import stop_embedded
    from registry.observability import configure_logging

    settings = load_settings(args)
    configure_logging(settings.log_level, settings.log_format)
    private_dir(settings.data_dir)
    region = node_region(settings)
    sock = listen(settings.host, settings.port)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        url = database_url(settings)
        migrate_database(url)
        settings = settings.model_copy(update={"node_region": region})
        prepare_node(url, settings)
        # Each worker builds the app from these variables (registry.app:from_environment).
        metrics = settings.metrics_dir
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(mode=0o700)
        os.environ.update(settings.environment())
        os.environ.update({env_name("database_url"): url, "PROMETHEUS_MULTIPROC_DIR": str(metrics.resolve())})
        base = f"http://{settings.host}:{sock.getsockname()[1]}"
        print(
            f"registry node {settings.node_region} listening on {base} ({settings.workers} workers)\n"
            f"GraphiQL: {base}/graphql  metrics: {base}/metrics  health: {base}/healthz\n"
            "GraphiQL needs the header  Authorization: Bearer TOKEN;  to make a national token, run:\n"
            f"  {_program()} token --data-dir {shlex.quote(str(settings.data_dir.resolve()))} --role national",
            flush=True,
        )
        config = Config(
            "registry.app:from_environment",
            factory=True,
            workers=settings.workers,
            log_config=None,  # the workers log through registry.observability
            access_log=False,
            log_level=settings.log_level,
        )
        supervisor = Supervisor(config, sockets=[sock])
        supervisor.run()  # until SIGTERM or SIGINT; then it stops the workers
        if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
            raise Failure("a server process failed to start; its error is in the log above")
    finally:
        sock.close()
        stop_embedded()


def node_region(settings: Settings) -> str:
    """The region the node speaks for: as given, else as recorded at its first start, else national."""
    from registry.federation.node import NodeError, resolve_region

    try:
        return resolve_region(settings.data_dir, settings.node_region)
    except NodeError as exc:
        raise Failure(str(exc)) from None


def prepare_node(url: str, settings: Settings) -> None:
    """Check that this database and identity key belong to this node, and record them (before serving)."""
    from registry.db import Database, make_engine
    from registry.federation.node import NodeError, prepare

    async def run() -> None:
        db = Database(make_engine(url))
        try:
            assert settings.node_region is not None
            await prepare(db, settings.data_dir, settings.node_region, settings.identity_key_file)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except NodeError as exc:
        raise Failure(str(exc)) from None


def _program() -> str:
    """`registry`, as the user called it (for instance .venv/bin/registry)."""
    return sys.argv[0] if Path(sys.argv[0]).name == "registry" else "registry"


@command("migrate", "apply the database migrations (serve does it too)", setting("data_dir", metavar="DIR"))
def migrate(args: argparse.Namespace) -> None:
    from registry.db import stop_embedded

    settings = load_settings(args)
    private_dir(settings.data_dir)
    try:
        migrate_database(database_url(settings))
    finally:
        stop_embedded()
    print("migrations applied", file=sys.stderr)


@command(
    "token",
    "print a bearer token signed with the node's newest key (and manage tokens and keys: see ACTION)",
    setting("data_dir", metavar="DIR"),
    option("--role", choices=[r.value for r in Role], help="what the holder may do (see README); required"),
    option("--region", metavar="CODE", help="a bureau's region code (520000 covers 52xxxx)"),
    option("--institution", metavar="CODE", help="an institution's code, for the institution role"),
    option("--practitioner", metavar="CODE", help="a practitioner's code, for the practitioner role"),
    option(
        "--hours",
        type=int,
        metavar="N",
        help=f"validity in hours, 1 to {MAX_TOKEN_HOURS} (default: REGISTRY_TOKEN_TTL_HOURS, else 8)",
    ),
)
def token(args: argparse.Namespace) -> None:
    from registry import tokens

    if args.role is None:
        raise Failure("--role is required to make a token (see registry token --help)")
    settings = load_settings(args)
    actor = Actor(Role(args.role), region=args.region, institution=args.institution, practitioner=args.practitioner)
    try:
        check_actor(actor)
    except InvalidToken as exc:
        raise Failure(str(exc)) from None
    if args.hours is not None and not 1 <= args.hours <= MAX_TOKEN_HOURS:
        raise Failure(f"--hours={args.hours}: a token is valid for 1 to {MAX_TOKEN_HOURS} hours")
    ttl = timedelta(hours=args.hours) if args.hours else settings.token_ttl
    issued = on_node(settings, lambda db: tokens.issue(db, actor, ttl=ttl))
    print(issued.token)
    print(
        f"token {issued.jti} for {actor.subject}, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC;"
        f" to revoke it: {_program()} token revoke {issued.jti}",
        file=sys.stderr,
    )


@command(
    "token revoke",
    "refuse a token from now on, in every server process of every machine (within seconds)",
    setting("data_dir", metavar="DIR"),
    option("jti", metavar="JTI", help="the token's id, as `registry token` printed it"),
)
def token_revoke(args: argparse.Namespace) -> None:
    from registry import tokens

    row = on_node(load_settings(args), lambda db: tokens.revoke(db, args.jti))
    print(f"revoked {row.jti} ({row.subject}, valid until {row.expires_at:%Y-%m-%d %H:%M %Z})")


@command(
    "token rotate-key",
    "make a new signing key for the tokens made from now on; tokens of the older keys stay valid until they expire",
    setting("data_dir", metavar="DIR"),
)
def token_rotate_key(args: argparse.Namespace) -> None:
    from registry import tokens

    key = on_node(load_settings(args), tokens.rotate_key)
    print(f"new signing key {key.kid}: it signs every token made from now on")


@command(
    "token retire-key",
    "refuse every token a signing key made, from now on, and erase the key (not the newest)",
    setting("data_dir", metavar="DIR"),
    option("kid", metavar="KID", help="the key's id, as `registry token keys` lists it"),
)
def token_retire_key(args: argparse.Namespace) -> None:
    from registry import tokens

    row = on_node(load_settings(args), lambda db: tokens.retire_key(db, args.kid))
    print(f"retired {row.kid}: the tokens it signed are refused from now on")


@command("token keys", "list the signing keys, newest last", setting("data_dir", metavar="DIR"))
def token_keys(args: argparse.Namespace) -> None:
    from registry import tokens

    for key, live in on_node(load_settings(args), tokens.list_keys):
        state = f"retired {key.retired_at:%Y-%m-%d %H:%M %Z}" if key.retired_at else f"{live} unexpired tokens"
        print(f"{key.kid}  made {key.created_at:%Y-%m-%d %H:%M %Z}  {state}")


@command(
    "audit verify",
    "walk the audit trail's hash chain and name every edited, deleted or reordered row (exit 1 if any)",
    setting("data_dir", metavar="DIR"),
    option("--anchor", metavar="SEQ:HASH", help="a head printed by an earlier verify, which must still be there"),
)
def audit_verify(args: argparse.Namespace) -> None:
    from registry import audit

    anchor = None
    if args.anchor is not None:
        seq, _, digest = args.anchor.partition(":")
        if not (seq.isdigit() and len(digest) == 64):
            raise Failure(f"--anchor={args.anchor!r}: expected SEQ:HASH, as verify prints the head")
        anchor = (int(seq), digest)
    report = on_node(load_settings(args), lambda db: audit.verify(db, anchor=anchor))
    for finding in report.findings:
        print(finding)
    seq, digest = report.head
    if not report.intact:
        raise Failure(f"the audit trail was tampered with: {len(report.findings)} findings above")
    print(f"audit trail intact: {report.rows} rows; head {seq}:{digest} (keep it to check with --anchor later)")


@command(
    "audit show",
    "print the newest rows of the audit trail, one JSON object a line, oldest first",
    setting("data_dir", metavar="DIR"),
    option("--last", type=int, default=20, metavar="N", help="how many rows (default 20)"),
)
def audit_show(args: argparse.Namespace) -> None:
    import json

    from registry import audit

    for row in on_node(load_settings(args), lambda db: audit.recent(db, max(1, args.last))):
        line = {c.key: getattr(row, c.key) for c in audit.AuditRow.__table__.columns}
        print(json.dumps(line, default=str, ensure_ascii=False))


@command(
    "node-key",
    "print this node's region and Ed25519 public key, as one line of JSON (peers add it with `peer add`)",
    setting("data_dir", metavar="DIR"),
    setting("node_region", "--region", metavar="CODE"),
)
def node_key(args: argparse.Namespace) -> None:
    from registry.federation.node import NodeError, describe

    settings = load_settings(args)
    try:
        print(json.dumps(describe(settings.data_dir, settings.node_region)))
    except NodeError as exc:
        raise Failure(str(exc)) from None


@command(
    "identity-key",
    "print the key resident-ID digests are made with, as one line of base64 (a secret: for operators only)",
    setting("data_dir", metavar="DIR"),
)
def identity_key(args: argparse.Namespace) -> None:
    from registry import identity

    print(identity.encode(identity.load_or_create(load_settings(args).keys_dir)))


@command(
    "peer add",
    "follow (and answer) the node at --url, which speaks for --region with --key; the same again changes nothing,"
    " another URL or key for a known region replaces them",
    setting("data_dir", metavar="DIR"),
    option("--region", required=True, metavar="CODE", help="the region the peer speaks for (000000 or a province)"),
    option("--url", required=True, help="the peer's base URL, such as http://127.0.0.1:8001"),
    option("--key", required=True, metavar="BASE64", help="the peer's public key, as its `registry node-key` prints"),
)
def peer_add(args: argparse.Namespace) -> None:
    from registry.federation import peers

    settings = load_settings(args)
    own = node_region(settings)
    try:
        print(
            on_node(
                settings,
                lambda db: peers.add(db, own_region=own, region=args.region, url=args.url, key=args.key),
                set_up=True,
            )
        )
    except peers.PeerError as exc:
        raise Failure(str(exc)) from None


@command("peer list", "print the peers, one JSON object a line", setting("data_dir", metavar="DIR"))
def peer_list(args: argparse.Namespace) -> None:
    from registry.federation import peers

    for line in on_node(load_settings(args), peers.listing, set_up=True):
        print(json.dumps(line))


@command(
    "regulator add",
    "add a webhook receiver told of every sanction change of the categories (and regions) given; a known name is"
    " replaced",
    setting("data_dir", metavar="DIR"),
    option("--name", required=True, help="the regulator's name, e.g. the provincial health commission"),
    option("--url", required=True, help="the http(s) URL the changes are POSTed to"),
    option("--secret", required=True, help="whsec_<base64>, or any other text used as raw bytes"),
    option("--categories", required=True, metavar="C1,C2", help="practitioner categories, e.g. PHYSICIAN,NURSE"),
    option("--regions", metavar="P1,P2", help="only practitioners registered under these region prefixes"),
)
def regulator_add(args: argparse.Namespace) -> None:
    from registry.errors import UserErrors
    from registry.federation import regulators

    categories = regulators.split_list(args.categories)
    regions = regulators.split_list(args.regions) if args.regions else None
    try:
        said = on_node(
            load_settings(args),
            lambda db: regulators.add_regulator(db, args.name, args.url, args.secret, categories, regions),
            set_up=True,
        )
    except UserErrors as exc:
        raise Failure("; ".join(f"--{p.field[-1] if p.field else '?'}: {p.message}" for p in exc.problems)) from None
    print(f"regulator {args.name.strip()} {said}")


@command(
    "regulator list",
    "print the regulators, one JSON object a line (secrets left out)",
    setting("data_dir", metavar="DIR"),
)
def regulator_list(args: argparse.Namespace) -> None:
    from registry.federation import regulators

    for row in on_node(load_settings(args), regulators.list_regulators, set_up=True):
        print(json.dumps(regulators.describe(row), ensure_ascii=False))


@command(
    "import",
    "import institutions or practitioners from CSV as this node's facts, all or nothing (see the README)",
    option("kind", choices=["institutions", "practitioners"], help="what the file holds (institutions first)"),
    option("file", type=Path, help="a CSV file with a header line"),
    setting("data_dir", metavar="DIR"),
    setting("node_region", "--region", metavar="CODE"),
    setting("identity_key_file", metavar="FILE"),
    option("--max-errors", type=int, default=20, metavar="N", help="bad rows to list; all are counted (default: 20)"),
)
def import_(args: argparse.Namespace) -> None:
    from registry import clock, identity
    from registry.bulk import console
    from registry.federation.node import NodeError, prepare
    from registry.node import Node

    settings = load_settings(args)
    if not args.file.is_file():
        raise Failure(f"{args.file}: no such file")
    private_dir(settings.data_dir)
    region = node_region(settings)

    async def work(db: Database) -> str:
        # As `serve` does: the node's region and identity key are recorded, and a different key refused.
        await prepare(db, settings.data_dir, region, settings.identity_key_file)
        node = Node(region, identity.load_or_create(settings.keys_dir))
        return await console.run_import(db, node, args.kind, args.file, today=clock.today(), max_errors=args.max_errors)

    try:
        print(on_node(settings, work, set_up=True), flush=True)
    except (console.Refused, NodeError) as exc:
        raise Failure(str(exc)) from None


@command(
    "export",
    "export institutions or practitioners as CSV, in the import's format",
    option("kind", choices=["institutions", "practitioners"], help="what to export"),
    setting("data_dir", metavar="DIR"),
    option("--output", type=Path, metavar="FILE", help="write it to FILE (default: standard output)"),
)
def export(args: argparse.Namespace) -> None:
    from registry.bulk import console

    try:
        said = on_node(load_settings(args), lambda db: console.run_export(db, args.kind, args.output))
    except console.Refused as exc:
        raise Failure(str(exc)) from None
    if said:
        print(said, file=sys.stderr)


@command(
    "export-schema",
    "print the GraphQL schema (SDL)",
    option("--output", metavar="FILE", help="write it to FILE instead (graphql/schema.graphql in the repository)"),
)
def export_schema(args: argparse.Namespace) -> None:
    from registry.api.schema import schema

    sdl = schema.as_str() + "\n"
    if not args.output:
        sys.stdout.write(sdl)
        return
    try:
        Path(args.output).write_text(sdl, encoding="utf-8")
    except OSError as exc:
        raise Failure(f"cannot write {args.output}: {exc.strerror}") from None


if __name__ == "__main__":
    main()
