"""Fixtures for the history import: files in tmp_path, the command, the real datasets."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "docs" / "mappings"
FEED_MAPPINGS = REPO / "docs" / "feed-mappings"


@dataclass
class CommandRun:
    stdout: str
    stderr: str
    error: CommandError | None = None


WriteFile = Callable[..., Path]
RunImport = Callable[..., CommandRun]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteFile:
    """Write CSV text to tmp_path in a given encoding and line ending; returns its path."""

    def write(
        text: str, name: str = "export.csv", encoding: str = "utf-8", newline: str = "\n"
    ) -> Path:
        path = tmp_path / name
        body = text.strip("\n").replace("\n", newline) + newline
        path.write_bytes(body.encode(encoding))
        return path

    return write


@pytest.fixture
def write_mapping(tmp_path: Path) -> WriteFile:
    def write(text: str, name: str = "mapping.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_import(db: None) -> RunImport:
    """Run `manage.py import_history` and return its output.

    A failure raises CommandError, unless `fails=True`: then the run must fail, and the error
    comes back with the output.
    """

    def run(csv_path: Path, mapping_path: Path, *options: str, fails: bool = False) -> CommandRun:
        out, err = io.StringIO(), io.StringIO()
        arguments = [str(csv_path), "--mapping", str(mapping_path), "--no-progress", *options]
        try:
            call_command("import_history", *arguments, stdout=out, stderr=err)
        except CommandError as error:
            if not fails:
                raise
            return CommandRun(stdout=out.getvalue(), stderr=err.getvalue(), error=error)
        if fails:
            pytest.fail("import_history succeeded where it should have failed")
        return CommandRun(stdout=out.getvalue(), stderr=err.getvalue())

    return run


@pytest.fixture
def datasets_dir() -> Path:
    """The shared real datasets: $LEADQUAL_DATASETS_DIR, else <repo>/../shared/datasets."""
    configured = os.environ.get("LEADQUAL_DATASETS_DIR")
    path = Path(configured) if configured else REPO.parent / "shared" / "datasets"
    if not path.is_dir():
        pytest.skip(
            f"the real datasets are not at {path} (set LEADQUAL_DATASETS_DIR to their folder)"
        )
    return path
