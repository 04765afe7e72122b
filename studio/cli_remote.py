"""``studio text --server URL``: stream a completion from an OpenAI-compatible server (llama.cpp's
``llama-server``, vLLM, Ollama, LM Studio ...) instead of a local model.

The same :class:`~studio.engines.remote_requests.ConnectServerRequest` and
:class:`~studio.engines.text_requests.CompletionRequest` the app sends, served by
:class:`~studio.engines.remote_llm.RemoteLlmBackend` in this process: nothing is loaded locally, so no engine
process is started. ``--model`` names one of the server's models (default: the first it lists). Errors end
with one line, ``studio: error: ...``, and exit status 2; Ctrl+C closes the stream (status 130).
"""

from __future__ import annotations

import argparse
import sys

EXIT_ERROR = 2
EXIT_CANCELLED = 130


def add_server_arguments(text_parser: argparse.ArgumentParser) -> None:
    """Add ``--server`` and ``--api-key-env`` to the ``studio text`` parser."""
    text_parser.add_argument(
        "--server",
        metavar="URL",
        default="",
        help="an OpenAI-compatible server (llama-server, vLLM, Ollama, LM Studio) to use instead of a local "
        "model, e.g. http://127.0.0.1:8080; --model then names one of its models",
    )
    text_parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="",
        help="with --server: the environment variable that holds the server's API key "
        "(default: the system keyring, when the keyring package is installed)",
    )


def _fail(message: str, wrote_text: bool = False) -> int:
    if wrote_text:
        sys.stdout.write("\n")
        sys.stdout.flush()
    print(f"studio: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_text_remote(args: argparse.Namespace) -> int:
    """Connect to ``args.server`` and stream the completion of ``args.prompt`` to stdout."""
    from studio.engines.host import run_job
    from studio.engines.protocol import CancelToken, EventKind, new_job_id
    from studio.engines.remote_llm import RemoteLlmBackend
    from studio.engines.remote_requests import ConnectServerRequest
    from studio.engines.text_requests import CompletionRequest

    if args.max_tokens < 1:
        return _fail("--max-tokens must be at least 1")
    if not 0.0 <= args.temperature <= 2.0:
        return _fail("--temperature must be between 0 and 2")
    backend = RemoteLlmBackend()
    connect = ConnectServerRequest(
        new_job_id(), url=args.server, api_key_env=args.api_key_env, model=args.model
    )
    completion = CompletionRequest(
        new_job_id(),
        prompt=args.prompt,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
    )
    wrote_text = False
    try:
        for request in (connect, completion):
            for event in run_job(backend, request, CancelToken()):
                if event.kind is EventKind.TOKENS:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                    wrote_text = True
                elif event.kind is EventKind.ERROR:
                    return _fail(event.text, wrote_text)
                elif event.kind is EventKind.CANCELLED:
                    return _fail("cancelled", wrote_text)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return 0
    except KeyboardInterrupt:
        if wrote_text:
            sys.stdout.write("\n")
        return EXIT_CANCELLED
    finally:
        backend.close()
