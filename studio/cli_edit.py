"""``studio edit``: apply a writing action (or a free instruction) to text from a file or stdin, for scripts.

It goes through the same request builder as Write's selection actions (:mod:`studio.writing.rewrite`) and the
same LLM engine process; the rewritten text is printed to stdout once it is complete and clean.
"""

from __future__ import annotations

import argparse
import queue
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.engines.protocol import EngineRequest

MAX_INPUT_CHARS = 200_000


class EditCliError(Exception):
    """A user-facing error of ``studio edit``: printed as one line, exit status 2."""


def add_edit_parser(subparsers: Any) -> None:
    """Register ``studio edit`` on ``studio``'s subcommand parser."""
    edit = subparsers.add_parser(
        "edit",
        help="rewrite text from a file or stdin by an instruction or a writing action",
        description='Rewrite text by an instruction (studio edit "Make it shorter") or a built-in action '
        "(--action shorten); the text comes from --input or stdin, the result goes to stdout.",
    )
    edit.add_argument("instruction", nargs="?", default="", help="what to do with the text")
    edit.add_argument("--action", default="", help="a built-in or saved action instead of an instruction")
    edit.add_argument("--list", action="store_true", help="name the actions and exit")
    edit.add_argument("--language", default="", help="the language of --action translate")
    edit.add_argument("--input", default="", help="a UTF-8 text file (default: stdin)")
    edit.add_argument("--model", default="", help="a GGUF model file (default: the embedded Gemma 3 270M)")
    edit.add_argument("--seed", type=int, default=None)
    edit.add_argument("--context", type=int, default=4096, help="context size in tokens")
    edit.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per physical core)")


def run_edit(args: argparse.Namespace) -> int:
    """Run ``studio edit``; errors print one line to stderr and return 2."""
    try:
        return _run_edit(args)
    except EditCliError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2


def _run_edit(args: argparse.Namespace) -> int:
    from studio.engines.protocol import new_job_id
    from studio.engines.results import LoadResult
    from studio.engines.text_requests import LoadModelRequest
    from studio.writing.actions import BUILTIN_ACTIONS, UserActions, find_action, instruction_action
    from studio.writing.prompts import PromptError
    from studio.writing.rewrite import RewritePlan, build_rewrite

    saved = UserActions()
    if args.list:
        for action in [*BUILTIN_ACTIONS, *saved.actions()]:
            extra = f" (needs --{action.asks_for})" if action.asks_for else ""
            group = f"{action.group}: " if action.group else ""
            print(f"{action.name:<16} {group}{action.label}{extra}")
        return 0
    if bool(args.action) == bool(args.instruction.strip()):
        raise EditCliError(
            'give an instruction ("Make it shorter") or --action NAME, not both (--list names them)'
        )
    if args.action:
        try:
            action = find_action(args.action, saved)
        except KeyError as exc:
            raise EditCliError(str(exc.args[0])) from None
        if action.asks_for:
            value = getattr(args, action.asks_for, "")
            if not value:
                raise EditCliError(f"--action {action.name} needs --{action.asks_for}")
            action = action.with_value(action.asks_for, value)
    else:
        action = instruction_action(args.instruction)
    text = _read_input(args.input)
    if not text.strip():
        raise EditCliError("the input is empty: there is nothing to rewrite")

    plans: list[RewritePlan] = []

    def make_job(loaded: LoadResult) -> EngineRequest[Any]:
        try:
            plan = build_rewrite(action, text, model_kind=loaded.model_kind, seed=args.seed)
        except (PromptError, ValueError) as exc:
            raise EditCliError(str(exc)) from None
        plans.append(plan)
        return plan.request

    load = LoadModelRequest(new_job_id(), model_path=args.model, n_ctx=args.context, n_threads=args.threads)
    raw = run_llm_job(load, make_job)
    result = plans[-1].result(raw)
    if not result:
        raise EditCliError("the model returned no text; try again with another --seed")
    sys.stdout.write(result if result.endswith("\n") else result + "\n")
    sys.stdout.flush()
    return 0


def _read_input(path: str) -> str:
    if not path or path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_CHARS * 4 + 1)
        source = "stdin"
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise EditCliError(f"cannot read {path}: {exc.strerror or exc}") from None
        source = path
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EditCliError(f"{source} is not UTF-8 text") from None
    if len(text) > MAX_INPUT_CHARS:
        raise EditCliError(f"{source} is too long for one edit (more than {MAX_INPUT_CHARS:,} characters)")
    return text.replace("\r\n", "\n")


def run_llm_job(
    load: Any,
    make_job: Callable[[Any], EngineRequest[Any]],
    on_tokens: Callable[[str], None] | None = None,
) -> str:
    """Load a model in the LLM engine process, then run the job ``make_job(load_result)`` and return its text.

    ``load`` is a :class:`~studio.engines.text_requests.LoadModelRequest`; safe mode is used when it was
    remembered for the model, and a load that crashes the engine is retried once in safe mode (with a notice
    on stderr), as ``studio text`` does. Failures raise :class:`EditCliError` with the engine's message.
    """
    from studio.engines import llm_safe_mode
    from studio.engines.client import EngineClient
    from studio.engines.protocol import EngineEvent, EventKind

    events: queue.Queue[EngineEvent] = queue.Queue()
    client = EngineClient("llm", events.put)
    store = llm_safe_mode.SafeModeStore()
    load = llm_safe_mode.with_safe_mode_if_remembered(load, store)
    if load.safe_mode:
        print(f"studio: {llm_safe_mode.SAFE_MODE_REMEMBERED}", file=sys.stderr)
    job: EngineRequest[Any] | None = None
    pieces: list[str] = []
    try:
        client.submit(load)
        while True:
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event.job_id == load.job_id:
                if event.kind is EventKind.RESULT:
                    job = make_job(event.result)
                    client.submit(job)
                elif event.kind is EventKind.ERROR:
                    retry = llm_safe_mode.retry_after_crash(load, event, store)
                    if retry is not None:
                        print(f"studio: {llm_safe_mode.SAFE_MODE_NOTICE}", file=sys.stderr)
                        load = retry
                        client.submit(load)
                        continue
                    if load.safe_mode and llm_safe_mode.is_crash(event):
                        raise EditCliError(llm_safe_mode.crashed_in_safe_mode_message(event))
                    raise EditCliError(event.text)
                elif event.kind is EventKind.CANCELLED:
                    raise EditCliError("cancelled")
            elif job is not None and event.job_id == job.job_id:
                if event.kind is EventKind.TOKENS:
                    pieces.append(event.text)
                    if on_tokens is not None:
                        on_tokens(event.text)
                elif event.kind is EventKind.RESULT:
                    text = getattr(event.result, "text", None)
                    return text if isinstance(text, str) else "".join(pieces)
                elif event.kind is EventKind.ERROR:
                    raise EditCliError(event.text)
                elif event.kind is EventKind.CANCELLED:
                    raise EditCliError("cancelled")
    except KeyboardInterrupt:
        if job is not None:
            client.cancel(job.job_id)
        raise EditCliError("interrupted") from None
    finally:
        client.shutdown()


def main(argv: list[str] | None = None) -> int:
    """``python -m studio.cli_edit ...``: ``studio edit`` on its own."""
    parser = argparse.ArgumentParser(prog="studio")
    add_edit_parser(parser.add_subparsers(dest="command"))
    return run_edit(parser.parse_args(["edit", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
