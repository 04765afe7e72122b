"""``studio models list|import|rename|remove|verify|pull``: the model registry on the command line.

Runs the same code as the Models window's jobs, in this process (the command line may read model headers
itself; the GUI process may not). Output goes to stdout, progress and errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar

from studio.engines.protocol import CancelToken, EngineEvent, EventKind
from studio.models import hub
from studio.models.curated import curated_files
from studio.models.fit import check_fit, format_bytes
from studio.models.inspect import ModelFileError, copy_into_models, inspect_model, verify_model
from studio.models.registry import ModelEntry, ModelRegistry, RegistryError
from studio.models.service import download_entry

T = TypeVar("T")


class ModelsCliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def add_models_parser(subparsers: Any) -> None:
    """Register ``studio models ...`` on the main parser's subparsers."""
    models = subparsers.add_parser("models", help="list, import, verify, remove and download models")
    actions = models.add_subparsers(dest="models_command", metavar="{list,import,rename,remove,verify,pull}")
    actions.required = True
    listing = actions.add_parser("list", help="the registered models, with what fits in memory now")
    listing.add_argument("--json", action="store_true", help="print the registry entries as JSON")
    adding = actions.add_parser(
        "import", help="register a GGUF, .safetensors, diffusers folder or TAESD folder (in place)"
    )
    adding.add_argument("path", help="the model file or folder")
    adding.add_argument("--name", default="", help="the name to show (default: what the file says)")
    adding.add_argument("--copy", action="store_true", help="copy it into Studio's models folder first")
    renaming = actions.add_parser("rename", help="give a model another name")
    renaming.add_argument("model", help="path, name or SHA-256 prefix")
    renaming.add_argument("name")
    removing = actions.add_parser(
        "remove", help="forget a model (deletes the file only when Studio downloaded it)"
    )
    removing.add_argument("model", help="path, name or SHA-256 prefix")
    verifying = actions.add_parser("verify", help="re-hash and re-check models (all when none is named)")
    verifying.add_argument("models", nargs="*", help="paths, names or SHA-256 prefixes")
    pulling = actions.add_parser(
        "pull", help="download a model from the hub (no arguments: the curated list)"
    )
    pulling.add_argument("repo", nargs="?", default="", help="owner/name, or a number from the curated list")
    pulling.add_argument(
        "file",
        nargs="*",
        default=[],
        help="the file in the repository (several: into one folder, e.g. a TAESD)",
    )
    pulling.add_argument("--revision", default="main")


def run_models(args: argparse.Namespace) -> int:
    """Run one ``studio models`` command; returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline except inside a download (studio.models.hub)
    try:
        registry = ModelRegistry()
        command = args.models_command
        if command == "list":
            return _list(registry, args.json)
        if command == "import":
            return _import(registry, Path(args.path), args.name, args.copy)
        if command == "rename":
            entry = _find(registry, args.model)
            registry.rename(entry.path, args.name)
            print(f"{entry.path}: now called {registry.get(entry.path).name}")  # type: ignore[union-attr]
            return 0
        if command == "remove":
            return _remove(registry, args.model)
        if command == "verify":
            return _verify(registry, args.models)
        if command == "pull":
            return _pull(registry, args.repo, args.file, args.revision)
        raise ModelsCliError(f"unknown command {command!r}")
    except (ModelsCliError, RegistryError, ModelFileError, hub.DownloadError) as exc:
        print(f"studio models: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nstudio models: interrupted (a download resumes where it stopped when run again)",
            file=sys.stderr,
        )
        return 130


def _find(registry: ModelRegistry, key: str) -> ModelEntry:
    entry = registry.find(key)
    if entry is None:
        raise ModelsCliError(f"no registered model matches {key!r} (see `studio models list`)")
    return entry


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a line per tenth otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1
        self.shown = False

    def show(self, event: EngineEvent) -> None:
        if event.kind is not EventKind.PROGRESS:
            return
        percent = f"{event.progress * 100:5.1f}% " if event.progress is not None else ""
        if self.tty:
            sys.stderr.write(f"\r{percent}{event.text[:100]:<100}")
            self.shown = True
        else:
            tenth = int((event.progress or 0) * 10)
            if tenth != self.last_tenth:
                self.last_tenth = tenth
                sys.stderr.write(f"{percent}{event.text}\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False


def _drive(job: Generator[EngineEvent, None, T]) -> T:
    progress = _Progress()
    try:
        while True:
            progress.show(next(job))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        progress.done()


def _row(entry: ModelEntry) -> str:
    fit = check_fit(entry)
    missing = "" if entry.exists else "  [file missing]"
    problem = f"  [problem: {entry.problem}]" if entry.problem else ""
    facts = ", ".join(
        part
        for part in (
            entry.model_kind.label,
            entry.architecture,
            f"{entry.parameters / 1e6:,.0f}M params" if entry.parameters else "",
            entry.quantization,
            f"{entry.context_length:,} ctx" if entry.context_length else "",
            format_bytes(entry.size_bytes) if entry.size_bytes else "",
            f"licence {entry.license}" if entry.license else "",
            "downloaded" if entry.downloaded else "",
        )
        if part
    )
    sha = entry.sha256[:12] if entry.sha256 else "not hashed"
    return (
        f"{entry.display_name}{missing}{problem}\n  {facts}\n  sha256 {sha}  {entry.path}\n"
        f"  {fit.verdict.value}: {fit.message}"
    )


def _read_unchecked_headers(registry: ModelRegistry) -> None:
    """Fill in the header facts of models that were only ever opened (quick; no hashing)."""
    for entry in registry.entries():
        if entry.checked or not entry.exists:
            continue
        try:
            fresh = _drive(inspect_model(Path(entry.path), "cli", CancelToken(), hash_file=False))
        except ModelFileError as exc:
            registry.update(entry.path, problem=str(exc), checked=time.time())
            continue
        fresh.path = entry.path
        registry.add(fresh)


def _list(registry: ModelRegistry, as_json: bool) -> int:
    _read_unchecked_headers(registry)
    entries = registry.entries()
    if as_json:
        from dataclasses import asdict

        print(json.dumps([asdict(entry) for entry in entries], indent=2))
        return 0
    if not entries:
        print("No models registered. Add one with `studio models import PATH` or `studio models pull`.")
        return 0
    print("\n\n".join(_row(entry) for entry in entries))
    return 0


def _import(registry: ModelRegistry, path: Path, name: str, copy: bool) -> int:
    path = path.expanduser()
    if not path.exists():
        raise ModelsCliError(f"{path} does not exist")
    entry = _drive(inspect_model(path, "cli", CancelToken(), hash_file=False))  # check before any copy
    if copy:
        path = _drive(copy_into_models(path, "cli", CancelToken()))
    entry = _drive(inspect_model(path, "cli", CancelToken()))
    entry.downloaded = copy  # a copy Studio made is Studio's to delete
    if name:
        entry.name = name
    registry.add(entry)
    if name:
        registry.rename(entry.path, name)
    print(_row(registry.get(entry.path) or entry))
    return 0


def _remove(registry: ModelRegistry, key: str) -> int:
    entry = _find(registry, key)
    registry.remove(entry.path)
    if entry.downloaded:
        print(f"Removed {entry.display_name} and deleted {entry.path}")
    else:
        print(f"Removed {entry.display_name} from the list (the file stays at {entry.path})")
    return 0


def _verify(registry: ModelRegistry, keys: list[str]) -> int:
    entries = [_find(registry, key) for key in keys] if keys else registry.entries()
    failures = 0
    for entry in entries:
        print(f"Verifying {entry.display_name} ({entry.path})", file=sys.stderr)
        fresh = _drive(verify_model(entry, "cli", CancelToken()))
        registry.apply_verify(entry.path, fresh)
        if fresh.problem:
            failures += 1
            print(f"FAILED {entry.display_name}: {fresh.problem}")
            continue
        print(f"ok {entry.display_name}: sha256 {fresh.sha256[:12]}, header fine")
    return 1 if failures else 0


def _pull(registry: ModelRegistry, repo: str, names: list[str], revision: str) -> int:
    curated = curated_files()
    if not repo:
        print("Curated models (studio models pull NUMBER, or studio models pull OWNER/REPO FILE [FILE...]):")
        for number, item in enumerate(curated, start=1):
            print(f"{number:3}. {item.label:<44} ~{format_bytes(item.size):>7}  {item.location}")
        return 0
    filenames: tuple[str, ...] = tuple(names) if len(names) > 1 else ()
    filename = names[0] if names else ""
    if repo.isdigit():
        index = int(repo) - 1
        if not 0 <= index < len(curated):
            raise ModelsCliError(f"the curated list has {len(curated)} entries")
        item = curated[index]
        repo, filename, filenames = item.repo_id, item.filename, item.filenames
    if not filename:
        raise ModelsCliError("name the file to download: studio models pull OWNER/REPO FILE [FILE...]")
    started = time.monotonic()
    entry = _drive(download_entry(repo, filename, revision, "cli", CancelToken(), filenames))
    registry.add(entry)
    print(f"Downloaded {entry.path} in {time.monotonic() - started:.0f} s, checked against the hub")
    print(_row(registry.get(entry.path) or entry))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m studio.cli_models ...`` (the same as ``studio models ...``)."""
    parser = argparse.ArgumentParser(prog="studio")
    subparsers = parser.add_subparsers(dest="command")
    add_models_parser(subparsers)
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return run_models(args)


if __name__ == "__main__":
    sys.exit(main())
