"""The `registry` command as a user meets it: each mistake ends in one clear line on stderr and a non-zero exit,
never a traceback; every option has help, and the README documents every option and setting."""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.cli import build_parser
from registry.config import Settings, env_name
from tests.conftest import TEST_DATA
from tests.processes import REGISTRY, clean_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node_dir() -> Iterator[Path]:
    path = TEST_DATA / "node-cli"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGISTRY, *args], env={**clean_env(), **(env or {})}, capture_output=True, text=True, timeout=60
    )


def one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.stdout == ""  # nothing announced
    return lines[0]


def test_serve_on_a_busy_port_says_so_before_anything_else(node_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_failure(run("serve", "--port", str(port), "--data-dir", str(node_dir)))
    assert line == f"registry serve: cannot listen on 127.0.0.1:{port}: the port is already in use"
    assert not (node_dir / "pg").exists()  # it stopped before starting a database


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--port", "99999"], {}, "--port=99999"),
        (["--port", "0"], {}, "--port=0"),
        (["--port", "http"], {}, "--port: invalid int value"),
        ([], {"REGISTRY_PORT": "70000"}, "REGISTRY_PORT='70000'"),
        (["--workers", "0"], {}, "--workers=0"),
        ([], {"REGISTRY_NODE_REGION": "abc"}, "REGISTRY_NODE_REGION='abc'"),
        ([], {"REGISTRY_NODE_REGION": "520201"}, "a province"),  # a county is no node
        ([], {"REGISTRY_DATABASE_URL": "mysql://u@db.example/registry"}, "not a PostgreSQL URL"),
        ([], {"REGISTRY_DATABASE_URL": "postgresql://u@127.0.0.1:5432"}, "names no database"),
        ([], {"REGISTRY_LOG_FORMAT": "xml"}, "REGISTRY_LOG_FORMAT='xml'"),
    ],
)
def test_bad_settings_are_refused_at_start(node_dir: Path, args: list[str], env: dict[str, str], says: str) -> None:
    line = one_line_failure(run("serve", "--data-dir", str(node_dir), *args, env=env))
    assert line.startswith("registry serve: ") and says in line


def test_an_unreachable_database_is_one_line_without_its_password(node_dir: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        url = f"postgresql://registry:s3cret@127.0.0.1:{port}/registry"
        line = one_line_failure(run("serve", "--data-dir", str(node_dir), env={"REGISTRY_DATABASE_URL": url}))
    assert f"cannot connect to the database postgresql://registry:***@127.0.0.1:{port}/registry" in line
    assert "s3cret" not in line


def test_migrate_and_token_validate_the_same_settings(node_dir: Path) -> None:
    env = {"REGISTRY_NODE_REGION": "abc"}
    assert "REGISTRY_NODE_REGION" in one_line_failure(run("migrate", "--data-dir", str(node_dir), env=env))
    token = run("token", "--data-dir", str(node_dir), "--role", "national", env=env)
    assert "REGISTRY_NODE_REGION" in one_line_failure(token)


def test_export_schema_to_a_missing_folder(tmp_path: Path) -> None:
    line = one_line_failure(run("export-schema", "--output", str(tmp_path / "missing" / "schema.graphql")))
    assert line == f"registry export-schema: cannot write {tmp_path}/missing/schema.graphql: No such file or directory"


def test_unknown_command_and_option_are_one_line() -> None:
    assert "invalid choice" in one_line_failure(run("serv"))
    assert "unrecognized arguments: --prot" in one_line_failure(run("serve", "--prot", "1"))


def test_migrate_makes_the_data_directory_private(node_dir: Path, database_url: str) -> None:
    node_dir.mkdir(parents=True)
    node_dir.chmod(0o755)  # an existing folder is tightened too
    done = run("migrate", "--data-dir", str(node_dir), env={"REGISTRY_DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(node_dir.stat().st_mode) == 0o700


def _subcommands(parser: argparse.ArgumentParser | None = None, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand by its full name ("token revoke" included)."""
    found = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found |= _subcommands(sub, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["token", "--role", "national"], "token"),
        (["token", "revoke", "abc"], "token revoke"),
        (["token", "rotate-key"], "token rotate-key"),
        (["token", "keys"], "token keys"),
        (["audit", "verify"], "audit verify"),
    ],
)
def test_token_and_audit_commands_refuse_a_folder_where_no_node_was_set_up(
    node_dir: Path, args: list[str], name: str
) -> None:
    """They never make a key (or a database) of their own: a token made there would be refused by every node."""
    line = one_line_failure(run(*args, "--data-dir", str(node_dir)))
    assert line.startswith(f"registry {name}: no node was ever set up in {node_dir}: "), line
    assert not node_dir.exists()


def test_token_lifetime_and_role_are_checked_before_anything_else(node_dir: Path) -> None:
    too_long = one_line_failure(run("token", "--data-dir", str(node_dir), "--role", "national", "--hours", "721"))
    assert too_long == "registry token: --hours=721: a token is valid for 1 to 720 hours"
    assert "--role is required" in one_line_failure(run("token", "--data-dir", str(node_dir)))
    setting = one_line_failure(run("token", "--role", "national", env={"REGISTRY_TOKEN_TTL_HOURS": "721"}))
    assert "REGISTRY_TOKEN_TTL_HOURS='721'" in setting
    assert not node_dir.exists()


def test_every_option_has_help() -> None:
    for name, parser in _subcommands().items():
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, f"registry {name} {action.option_strings}"


def test_the_readme_documents_every_option_and_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, parser in _subcommands().items():
        assert f"registry {name}" in readme
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert re.search(rf"registry {name}\b[^\n]*{flag}\b", readme), f"registry {name} {flag}"
    for field in Settings.model_fields:
        assert env_name(field) in readme, env_name(field)


def test_the_contract_check_runs_from_the_repository(tmp_path: Path) -> None:
    check = [sys.executable, str(ROOT / "tools" / "check_contract.py")]
    done = subprocess.run(check, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1] == "8 passed, 0 failed"
    broken = tmp_path / "ops.graphql"
    broken.write_text("query Gone { eligibility(code: 1) { eligible } }\n", encoding="utf-8")
    done = subprocess.run(
        [*check, str(ROOT / "graphql" / "schema.graphql"), str(broken)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "FAIL Gone" in done.stdout
