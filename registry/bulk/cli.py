"""`registry import` and `registry export`: argument parsing, a progress bar and a summary."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from registry.config import Settings

KINDS = ("institutions", "practitioners")


def add_commands(sub: Any, data_dir_help: str) -> None:
    """Add `import` and `export` to the `registry` command's subparsers."""
    data_dir = os.environ.get("REGISTRY_DATA_DIR", ".data/node")
    p = sub.add_parser("import", help="import institutions or practitioners from CSV, all or nothing")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path, help="CSV with a header line (see README, Bulk import)")
    p.add_argument("--data-dir", default=data_dir, help=data_dir_help)
    p.add_argument("--max-errors", type=int, default=20, help="bad rows to list (all are counted)")
    p.set_defaults(func=run_import)

    p = sub.add_parser("export", help="export institutions or practitioners as CSV (the import's format)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--output", type=Path, help="file to write (default: standard output)")
    p.add_argument("--data-dir", default=data_dir, help=data_dir_help)
    p.set_defaults(func=run_export)


def _connect(settings: Settings, *, migrate: bool) -> psycopg.Connection:
    from registry.db import libpq_url, start_embedded
    from registry.migrate import upgrade

    url = settings.database_url or start_embedded(settings.data_dir)
    if migrate:
        upgrade(url)
    return psycopg.connect(libpq_url(url), autocommit=True)


class _Bar:
    """The importer's progress, drawn with rich on standard error."""

    def __init__(self, progress: Progress, kind: str) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task(f"reading {kind}", total=None)

    def read(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def phase(self, name: str) -> None:
        self.progress.update(self.task, total=1, completed=1)
        self.task = self.progress.add_task(name, total=None)

    def finish(self) -> None:
        self.progress.update(self.task, total=1, completed=1)


def run_import(args: argparse.Namespace) -> None:
    from registry import clock
    from registry.auth import load_key
    from registry.bulk.importer import RowsRejected, import_institutions, import_practitioners
    from registry.bulk.rows import BadFile

    settings = Settings(data_dir=Path(args.data_dir))
    if not args.file.is_file():
        sys.exit(f"registry import: {args.file}: no such file")
    console = Console(stderr=True)
    try:
        with _connect(settings, migrate=True) as conn, _progress(console) as progress:
            bar = _Bar(progress, args.kind)
            if args.kind == "institutions":
                done = import_institutions(
                    conn, args.file, node_region=settings.node_region, progress=bar, max_errors=args.max_errors
                )
            else:
                done = import_practitioners(
                    conn,
                    args.file,
                    node_region=settings.node_region,
                    id_secret=load_key(settings.keys_dir, "id-hash.key"),
                    today=clock.today(),
                    progress=bar,
                    max_errors=args.max_errors,
                )
            bar.finish()
    except BadFile as exc:
        sys.exit(f"registry import: {exc}")
    except RowsRejected as exc:
        for error in exc.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        more = exc.count - len(exc.errors)
        tail = f" (and {more} more)" if more > 0 else ""
        sys.exit(f"registry import: {exc.count} problems in {args.file}{tail}; nothing was written")
    except KeyboardInterrupt:
        sys.exit("registry import: interrupted; nothing was written")
    rate = done.rows / done.seconds if done.seconds else 0.0
    events = f"; events {done.events[0]}..{done.events[1]}" if done.events else ""
    unchanged = f", {done.unchanged:,} already there as given" if done.unchanged else ""
    print(
        f"imported {done.rows:,} {args.kind}{unchanged} in {done.seconds:.1f} s ({rate:,.0f} rows/s){events}",
        flush=True,
    )


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def run_export(args: argparse.Namespace) -> None:
    from registry.bulk.exporter import export

    settings = Settings(data_dir=Path(args.data_dir))
    try:
        with _connect(settings, migrate=False) as conn:
            if not args.output:
                export(conn, args.kind, sys.stdout.buffer)
                return
            # Written aside and renamed when complete: a failed export leaves no half file behind.
            part = args.output.with_name(args.output.name + ".part")
            with part.open("wb") as out:
                rows = export(conn, args.kind, out)
            part.replace(args.output)
    except OSError as exc:
        sys.exit(f"registry export: {exc.filename or args.output or 'standard output'}: {exc.strerror or exc}")
    print(f"exported {rows:,} {args.kind} to {args.output}", file=sys.stderr)
