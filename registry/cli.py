"""The `registry` command.

A subcommand is one function decorated with `@command`, with its options listed beside it: `setting(name)` for an
option that overrides a setting (registry.config.Settings supplies its help and default), `option(...)` for the
rest (argparse's arguments). A mistake the user can fix raises `Failure`: one line on stderr, exit status 1.

argparse rather than Typer: a subcommand stays a few declarative lines either way, and argparse (standard library)
prints a usage error as the one line we choose; Typer draws multi-line panels, and turning them off is no smaller.
"""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from prometheus_client.multiprocess import mark_process_dead
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from registry.auth import Actor, InvalidToken, Role, check_actor, issue_token, load_key
from registry.config import Settings, env_name, redact_url


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


def command(name: str, help: str, *options: Option) -> Callable[[Callable[[argparse.Namespace], None]], Any]:
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
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        for opt in cmd.options:
            p.add_argument(*opt.flags, **opt.kwargs)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except Failure as exc:
        print(f"registry {args.command}: {exc}", file=sys.stderr)
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
    from registry.migrate import upgrade

    upgrade(url)


def check_keys(settings: Settings, url: str) -> None:
    """A node that joins a database already holding people must bring the key their resident IDs were hashed with
    (another machine's DATA_DIR/keys): with a new one, nobody's digests would match, and one person could be
    registered twice."""
    import psycopg

    from registry.db import libpq_url

    key = settings.keys_dir / "id-hash.key"
    if key.exists():
        return
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM practitioners)").fetchone()
    if row is not None and row[0]:
        raise Failure(
            f"{key} is missing, and the database already holds practitioners: copy DATA_DIR/keys/ from a machine "
            "that serves this database (see the README, several machines)"
        )


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
)
def serve(args: argparse.Namespace) -> None:
    from uvicorn import Config
    from uvicorn.config import STARTUP_FAILURE

    from registry.db import stop_embedded
    from registry.observability import configure_logging

    settings = load_settings(args)
    configure_logging(settings.log_level, settings.log_format)
    private_dir(settings.data_dir)
    sock = listen(settings.host, settings.port)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        url = database_url(settings)
        migrate_database(url)
        check_keys(settings, url)
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
    "print a bearer token signed with the node's key",
    setting("data_dir", metavar="DIR"),
    option("--role", required=True, choices=[r.value for r in Role], help="what the holder may do (see README)"),
    option("--region", metavar="CODE", help="a bureau's region code (520000 covers 52xxxx)"),
    option("--institution", metavar="CODE", help="an institution's code, for the institution role"),
    option("--practitioner", metavar="CODE", help="a practitioner's code, for the practitioner role"),
    option("--hours", type=int, metavar="N", help="validity in hours (default: REGISTRY_TOKEN_TTL_HOURS, else 720)"),
)
def token(args: argparse.Namespace) -> None:
    settings = load_settings(args)
    actor = Actor(Role(args.role), region=args.region, institution=args.institution, practitioner=args.practitioner)
    try:
        check_actor(actor)
    except InvalidToken as exc:
        raise Failure(str(exc)) from None
    ttl = timedelta(hours=args.hours) if args.hours else settings.token_ttl
    print(issue_token(load_key(settings.keys_dir, "token.key"), actor, ttl=ttl))


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
