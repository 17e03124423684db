"""What `registry import` and `registry export` show: a progress bar, the bad rows, a summary line."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO

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

from registry.bulk.exporter import export
from registry.bulk.importer import Imported, RowsRejected, import_institutions, import_practitioners
from registry.bulk.rows import BadFile
from registry.db import Database
from registry.node import Node

KINDS = ("institutions", "practitioners")


class Refused(Exception):
    """Nothing was imported or exported; the message says why, in one line."""


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


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@contextmanager
def _tuned_for_an_import() -> Iterator[None]:
    """The import process as an import needs it, until it ends.

    The cyclic collector waits: the import allocates tens of millions of short-lived objects and makes no cycles,
    and the collector would walk the live ones again and again (a fifth of the CPU time). Threads switch every
    0.5 ms, not 5: the writer makes a dozen round trips to PostgreSQL per chunk, and after each it waited for the
    reader thread to hand back the interpreter, which kept PostgreSQL idle (a sixth of the time).
    """
    collecting, interval = gc.isenabled(), sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(0.0005)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()


async def run_import(db: Database, node: Node, kind: str, file: Path, *, today: date, max_errors: int) -> str:
    """Import `file` as `node`; the summary line. The first bad rows go to standard error, then Refused."""
    try:
        with _tuned_for_an_import(), _progress(Console(stderr=True)) as progress:
            bar = _Bar(progress, kind)
            done: Imported
            if kind == "institutions":
                done = await import_institutions(db, file, node=node.region, progress=bar, max_errors=max_errors)
            else:
                done = await import_practitioners(db, file, node=node, today=today, progress=bar, max_errors=max_errors)
            bar.finish()
    except BadFile as exc:
        raise Refused(str(exc)) from None
    except RowsRejected as exc:
        for error in exc.errors:
            print(f"{file}: {error}", file=sys.stderr)
        more = exc.count - len(exc.errors)
        tail = f" (and {more} more)" if more > 0 else ""
        raise Refused(f"{exc.count} problems in {file}{tail}; nothing was written") from None
    rate = done.rows / done.seconds if done.seconds else 0.0
    seqs = f"; facts {node.region}#{done.seqs[0]}..{done.seqs[1]}" if done.seqs else ""
    unchanged = f", {done.unchanged:,} already there as given" if done.unchanged else ""
    return f"imported {done.rows:,} {kind}{unchanged} in {done.seconds:.1f} s ({rate:,.0f} rows/s){seqs}"


async def run_export(db: Database, kind: str, output: Path | None) -> str | None:
    """Export to `output` (written aside and renamed when complete), or to standard output; the summary line."""
    try:
        async with db.reader() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, psycopg.AsyncConnection)
            if output is None:
                await export(raw, kind, sys.stdout.buffer)
                return None
            # A failed export leaves no half file behind.
            part = output.with_name(output.name + ".part")
            out: IO[bytes]
            with part.open("wb") as out:
                rows = await export(raw, kind, out)
            part.replace(output)
    except OSError as exc:
        raise Refused(f"{exc.filename or output or 'standard output'}: {exc.strerror or exc}") from None
    return f"exported {rows:,} {kind} to {output}"
