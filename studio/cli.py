"""Studio's command line: the GUI by default, ``studio text`` and ``studio image`` through the same engines."""

from __future__ import annotations

import argparse
import queue
import sys
from collections.abc import Sequence

from studio import __version__

SUBCOMMANDS = ("text", "image", "edit", "models")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"studio: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="studio", description="Studio: write and paint with local AI models, offline."
    )
    parser.add_argument("--version", action="version", version=f"Studio {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="{text,image,edit,models}")
    text = subparsers.add_parser("text", help="stream a text completion from a local GGUF model to stdout")
    text.add_argument("prompt", help="the text to continue")
    text.add_argument("--model", default="", help="a GGUF model file (default: the embedded Gemma 3 270M)")
    text.add_argument("--max-tokens", type=int, default=64)
    text.add_argument("--temperature", type=float, default=0.7)
    text.add_argument("--seed", type=int, default=None)
    text.add_argument("--context", type=int, default=4096, help="context size in tokens")
    text.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per physical core)")
    from studio.cli_remote import add_server_arguments

    add_server_arguments(text)
    try:
        from studio.cli_image import add_image_parser
    except ImportError:
        pass
    else:
        add_image_parser(subparsers)
    from studio.cli_edit import add_edit_parser
    from studio.cli_models import add_models_parser

    add_edit_parser(subparsers)
    add_models_parser(subparsers)
    return parser


def build_gui_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="studio",
        description="Studio: write and paint with local AI models, offline.",
        epilog="commands:\n  studio text PROMPT    stream a text completion (studio text --help)\n"
        "  studio image PROMPT   generate an image (studio image --help)\n"
        "  studio edit INSTRUCTION  rewrite text from stdin or --input (studio edit --help)\n"
        "  studio models list    list, import, verify, remove and download models (studio models --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"Studio {__version__}")
    parser.add_argument(
        "--system-info",
        action="store_true",
        help="print what a bug report needs (versions, CPU, llama.cpp and torch backends, threads, folders) "
        "and exit",
    )
    parser.add_argument("--json", action="store_true", help="with --system-info: print it as JSON")
    parser.add_argument("files", nargs="*", help="documents or images to open")
    return parser


def run_text(args: argparse.Namespace) -> int:
    """Stream a completion to stdout through the LLM engine process.

    If the engine crashes while loading the model, the load is retried once in safe mode (see
    :mod:`studio.engines.llm_safe_mode`) and a one-line notice goes to stderr.
    """
    import dataclasses

    from studio.engines import llm_safe_mode
    from studio.engines.client import EngineClient
    from studio.engines.protocol import EngineEvent, EventKind, new_job_id
    from studio.engines.text_requests import CompletionRequest, LoadModelRequest

    if args.max_tokens < 1:
        raise CliError("--max-tokens must be at least 1")
    if not 0.0 <= args.temperature <= 2.0:
        raise CliError("--temperature must be between 0 and 2")
    events: queue.Queue[EngineEvent] = queue.Queue()
    client = EngineClient("llm", events.put)
    store = llm_safe_mode.SafeModeStore()
    load = llm_safe_mode.with_safe_mode_if_remembered(
        LoadModelRequest(new_job_id(), model_path=args.model, n_ctx=args.context, n_threads=args.threads),
        store,
    )
    if load.safe_mode:
        print(f"studio: {llm_safe_mode.SAFE_MODE_REMEMBERED}", file=sys.stderr)
    completion = CompletionRequest(
        new_job_id(),
        prompt=args.prompt,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
    )
    try:
        client.submit(load)
        client.submit(completion)
        pending = {load.job_id, completion.job_id}
        wrote_text = False
        while pending:
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.job_id not in pending:
                continue  # the other job of an engine that crashed while loading
            crashed = event.error is not None and event.error.engine_crashed
            if event.kind is EventKind.ERROR and load.job_id in pending and crashed:
                # the engine died before the model was ready: that was the load, whichever job reports it
                retry = llm_safe_mode.retry_after_crash(load, event, store)
                if retry is not None:
                    print(f"studio: {llm_safe_mode.SAFE_MODE_NOTICE}", file=sys.stderr)
                    load, completion = retry, dataclasses.replace(completion, job_id=new_job_id())
                    client.submit(load)
                    client.submit(completion)
                    pending = {load.job_id, completion.job_id}
                    continue
                if load.safe_mode and llm_safe_mode.is_crash(event):
                    raise CliError(llm_safe_mode.crashed_in_safe_mode_message(event))
            if event.kind is EventKind.TOKENS and event.job_id == completion.job_id:
                sys.stdout.write(event.text)
                sys.stdout.flush()
                wrote_text = True
            elif event.kind is EventKind.ERROR:
                if wrote_text:
                    sys.stdout.write("\n")
                raise CliError(event.text)
            elif event.kind is EventKind.CANCELLED:
                raise CliError("cancelled")
            if event.kind.is_terminal:
                pending.discard(event.job_id)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return 0
    except KeyboardInterrupt:
        client.cancel(completion.job_id)
        return 130
    finally:
        client.shutdown()


def run_system_info(as_json: bool) -> int:
    """Print the system report of ``studio --system-info`` to stdout."""
    from studio.system_info import stdout_to_stderr
    from studio.system_runtime import collect

    with stdout_to_stderr():  # what llama.cpp or torch print while loading must not mix into the report
        try:
            from PySide6.QtCore import qVersion

            qt_runtime = qVersion()
        except Exception as exc:
            qt_runtime = f"unavailable ({type(exc).__name__}: {exc})"
        report = collect(qt_runtime=qt_runtime)
    sys.stdout.write(report.to_json() if as_json else report.to_text())
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``studio``, ``python -m studio`` and ``python main.py``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            args = build_parser().parse_args(argv)
            if args.command == "text":
                if args.server:
                    from studio.cli_remote import run_text_remote

                    return run_text_remote(args)
                if args.api_key_env:
                    raise CliError("--api-key-env goes with --server")
                return run_text(args)
            if args.command == "edit":
                from studio.cli_edit import run_edit

                return run_edit(args)
            if args.command == "models":
                from studio.cli_models import run_models

                return run_models(args)
            from studio.cli_image import run_image

            return run_image(args)
        gui_parser = build_gui_parser()
        gui_args = gui_parser.parse_args(argv)
        if gui_args.json and not gui_args.system_info:
            gui_parser.error("--json goes with --system-info")
        if gui_args.system_info:
            return run_system_info(gui_args.json)
    except CliError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    from studio.ui.app import run_app

    return run_app(gui_args.files)
