"""`make mutation`: mutation testing of the runtime core.

Every mutant (tools/mutation/mutants.py) of each target module is run against that module's
tests in a fresh pytest process that imports the mutant instead of the repository's file (the
`redirect` folder's sitecustomize; the working tree is never touched). A mutant is killed when a
test fails, timed out when the tests take far longer than unmutated (an infinite loop counts as
caught), and survived otherwise. Survivors listed in `equivalent.jsonl` change nothing a user can
see; they are left out of the score. Prints a table per module, the survivors with file and line,
and exits 1 if the score is below --target.

    python -m tools.mutation.run [--module runtime/validate.py ...] [--jobs N] [--target 90]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.mutation.mutants import Mutant, mutants

REPO = Path(__file__).resolve().parents[2]
REDIRECT = Path(__file__).with_name("redirect")
EQUIVALENT = Path(__file__).with_name("equivalent.jsonl")
# The runtime core, each module with the tests that exercise it: fast, focused files first, since
# most mutants die in the first seconds (pytest -x), and the CLI's subprocess tests last.
_R = "tests/runtime/test_"
TARGETS = {
    "runtime/validate.py": (
        f"{_R}validate.py",
        f"{_R}one_house.py",
        f"{_R}predictor.py",
        f"{_R}infer.py",
        f"{_R}cli.py",
    ),
    "runtime/contract.py": (f"{_R}contract.py", f"{_R}predictor.py", f"{_R}cli.py"),
    "runtime/readers.py": (
        f"{_R}readers.py",
        f"{_R}uniform_lines.py",
        f"{_R}infer.py",
        f"{_R}cli.py",
    ),
    "runtime/csv_reader.py": (f"{_R}readers.py", f"{_R}infer.py", f"{_R}cli.py"),
    "runtime/uniform_lines.py": (f"{_R}uniform_lines.py", f"{_R}readers.py", f"{_R}infer.py"),
    "runtime/json_numbers.py": (f"{_R}uniform_lines.py", f"{_R}readers.py"),
    "runtime/json_input.py": (f"{_R}validate.py", f"{_R}readers.py", f"{_R}one_house.py"),
    "runtime/writers.py": (f"{_R}writers.py", f"{_R}infer.py", f"{_R}cli.py", f"{_R}cli_io.py"),
    "runtime/one_house.py": (f"{_R}one_house.py", "tests/serve/test_server.py"),
    "serve/app.py": (
        "tests/serve/test_app.py",
        "tests/serve/test_oip_handlers.py",
        "tests/serve/test_requests.py",
        "tests/serve/test_server.py",
        "tests/serve/test_openapi.py",
    ),
    "serve/errors.py": ("tests/serve/test_requests.py", "tests/serve/test_server.py"),
    "serve/guard.py": (
        "tests/serve/test_app.py",
        "tests/serve/test_requests.py",
        "tests/serve/test_server.py",
    ),
    "serve/oip_tensors.py": (
        "tests/serve/test_oip_tensors.py",
        "tests/serve/test_oip_answers.py",
        "tests/serve/test_oip.py",
    ),
    "serve/one_send.py": ("tests/serve/test_one_send.py",),
    "serve/oip.py": (
        "tests/serve/test_oip_handlers.py",
        "tests/serve/test_oip.py",
        "tests/serve/test_oip_refusals.py",
        "tests/serve/test_openapi.py",
    ),
    "runtime/npz_model.py": (f"{_R}npz.py", f"{_R}npz_hostile.py", f"{_R}npz_model.py"),
    "batch/output.py": (
        "tests/batch/test_output.py",
        "tests/batch/test_safety.py",
        "tests/batch/test_job.py",
    ),
    "export/c_source.py": (
        "tests/export/test_source_exports.py",
        "tests/export/test_c_source.py",
        "tests/export/test_leftovers_and_names.py",
    ),
    "export/js_source.py": ("tests/export/test_source_exports.py",),
    "export/source_gate.py": (
        "tests/export/test_source_exports.py",
        "tests/export/test_source_gate.py",
    ),
    "core/files.py": (
        "tests/core/test_files.py",
        "tests/core/test_files_edges.py",
        "tests/export/test_leftovers_and_names.py",
        f"{_R}writers.py",
        f"{_R}cli_io.py",
    ),
    "serve/connections.py": (
        "tests/serve/test_connection_bookkeeping.py",
        "tests/serve/test_connections.py",
        "tests/serve/test_heads.py",
        "tests/serve/test_tls_limits.py",
    ),
    "serve/grpc_connections.py": (
        "tests/serve/test_grpc_connections.py",
        "tests/serve/test_grpc_hostile.py",
    ),
    "core/build_cache.py": ("tests/core/test_build_cache.py",),
}
# Modules whose tests are mostly slow-marked (servers held under attack for seconds): their mutants
# run the slow tests too, or almost none of their tests would run at all.
WITH_SLOW_TESTS = frozenset({"serve/connections.py", "serve/grpc_connections.py"})
PACKAGE_OF = {
    folder: f"houseprice.{folder}" for folder in ("runtime", "serve", "batch", "export", "core")
}


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # "killed", "survived", "timeout"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.report:
        return _report(_load(args.report), _equivalents(), args.target)
    modules = args.module or list(TARGETS)
    unknown = [m for m in modules if m not in TARGETS]
    if unknown:
        sys.exit(f"mutation: unknown module {unknown[0]}; choose from {', '.join(TARGETS)}")
    equivalent = _equivalents()
    earlier = [o for saved in args.again or [] for o in _load(saved)]
    settled = _settled(earlier)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory(prefix="hp-mutation-") as work:
            env = _environment(Path(work))
            for module in modules:
                outcomes += _run_module(module, Path(work), env, args.jobs, settled)
                # after each module, so an interrupted run's finished modules are kept
                _save(_kept(outcomes, earlier), args.save)
    except KeyboardInterrupt:
        done = len({o.mutant.path for o in outcomes})
        kept = f"{done} finished module(s) saved in {args.save}; go on with --again {args.save}"
        print(f"mutation: interrupted; {kept if done else 'nothing saved'}", file=sys.stderr)
        return 130
    return _report(outcomes, equivalent, args.target)


def _kept(outcomes: list[Outcome], earlier: list[Outcome]) -> list[Outcome]:
    """This run's outcomes and, for modules it has not run, the --again files' latest ones: the
    saved file stays the whole record whichever modules a run covers."""
    ran = {o.mutant.path for o in outcomes}
    latest = {o.mutant.key: o for o in earlier if o.mutant.path not in ran}
    return [*outcomes, *latest.values()]


def _save(outcomes: list[Outcome], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**asdict(o.mutant), "status": o.status} for o in outcomes]
    partial = path.with_name(f".{path.name}.tmp")  # a whole file or the previous one
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:  # a signal meanwhile is delivered after the rename, leaving no temp file
        partial.write_text(json.dumps(rows, indent=1) + "\n")
        os.replace(partial, path)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _load(path: Path) -> list[Outcome]:
    rows = json.loads(path.read_text())
    return [
        Outcome(Mutant(**{k: v for k, v in r.items() if k != "status"}), r["status"]) for r in rows
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="a target, e.g. runtime/validate.py")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--target", type=float, default=90.0, help="minimum score, percent")
    parser.add_argument(
        "--save",
        type=Path,
        default=REPO / "artifacts" / "mutation.json",
        help="where the outcomes are kept [%(default)s]",
    )
    parser.add_argument(
        "--again",
        type=Path,
        action="append",
        metavar="SAVED",
        help="take SAVED's killed and timed-out mutants as they were and run the rest (its "
        "survivors, and mutants of lines changed since): the whole module's score, sooner; "
        "may be given more than once",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="SAVED",
        help="report saved outcomes again (after editing equivalent.jsonl); run none",
    )
    return parser


def _environment(work: Path) -> dict[str, str]:
    """Every run shares one trained and exported model, built here once."""
    env = dict(os.environ, HP_TEST_EXPORTED=str(work / "exported"))
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REDIRECT), str(REPO), env.get("PYTHONPATH")])
    )
    build = (
        "from pathlib import Path; from tests.conftest import build_exported; "
        f"build_exported(Path({str(work / 'exported')!r}))"
    )
    subprocess.run([sys.executable, "-c", build], cwd=REPO, env=env, check=True)
    return env


def _settled(outcomes: list[Outcome]) -> dict[tuple[str, str, str], str]:
    """Mutant key -> outcome for those an earlier run killed or timed out."""
    return {o.mutant.key: o.status for o in outcomes if o.status in ("killed", "timeout")}


def _run_module(
    module: str,
    work: Path,
    env: dict[str, str],
    jobs: int,
    settled: dict[tuple[str, str, str], str],
) -> list[Outcome]:
    args = TARGETS[module] if module in WITH_SLOW_TESTS else ("-m", "not slow", *TARGETS[module])
    started = time.monotonic()
    if _pytest(args, env, timeout=900) != "survived":
        sys.exit(f"mutation: the tests of {module} fail without any mutant; fix them first")
    timeout = 3 * (time.monotonic() - started) + 10
    found = mutants(module, (REPO / module).read_text())
    known = [Outcome(m, settled[m.key]) for m, _ in found if m.key in settled]
    found = [(m, text) for m, text in found if m.key not in settled]
    folder, stem = Path(module).parent.name, Path(module).stem
    name = f"{PACKAGE_OF[folder]}.{stem}"
    earlier = f" ({len(known)} settled by --again)" if known else ""
    print(
        f"{module}: {len(found) + len(known)} mutants{earlier}, {timeout:.0f} s timeout each",
        file=sys.stderr,
    )

    def run(numbered: tuple[int, tuple[Mutant, str]]) -> Outcome:
        i, (mutant, text) = numbered
        path = work / f"{stem}_{i}.py"
        path.write_text(text)
        status = _pytest(args, dict(env, HP_MUTANT=f"{name}={path}"), timeout)
        path.unlink()
        return Outcome(mutant, status)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return known + list(pool.map(run, enumerate(found)))


_running: set[subprocess.Popen] = set()  # pytest processes under way, stopped on a signal
_stopping = threading.Event()


def _pytest(args: tuple[str, ...], env: dict[str, str], timeout: float) -> str:
    """pytest on ``args`` (a marker filter and the test files): killed, survived or timeout."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-n",
        "0",  # one process a mutant: `--jobs` runs mutants side by side, xdist would only add start-up
        "-p",
        "no:cacheprovider",
        "--no-header",
        *args,
    ]
    if _stopping.is_set():
        return "stopped"
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _running.add(process)
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        _kill(process)
        _running.discard(process)
    return "survived" if code == 0 else "killed"


def _kill(process: subprocess.Popen) -> None:
    """The pytest process and whatever it started (servers, hp-infer)."""
    with contextlib.suppress(ProcessLookupError):  # gone already: nothing to stop
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _on_signal(signum: int, frame: object) -> None:
    _stopping.set()
    for process in list(_running):
        _kill(process)
    raise KeyboardInterrupt


def _equivalents(path: Path = EQUIVALENT) -> dict[tuple[str, str, str], str]:
    """(path, source line, mutation) -> why, from JSON Lines: one object a line with those four
    fields. JSON, so a mutant's text may hold any character (`|`, quotes) without escaping rules
    of our own."""
    found = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            entry = json.loads(line)
            try:
                found[(entry["path"], entry["line"], entry["mutation"])] = entry["why"]
            except (KeyError, TypeError):
                sys.exit(f"mutation: {path.name}:{number}: needs path, line, mutation and why")
    return found


def _report(outcomes: list[Outcome], equivalent: dict[tuple, str], target: float) -> int:
    print(
        f"{'module':<26}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}{'equiv.':>7}"
        f"{'score':>8}"
    )
    totals = [0, 0, 0, 0, 0]
    for module in dict.fromkeys(o.mutant.path for o in outcomes):
        mine = [o for o in outcomes if o.mutant.path == module]
        row = _counts(mine, equivalent)
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        print(_row(module, row))
    print(_row("all", totals))
    survivors = [
        o.mutant for o in outcomes if o.status == "survived" and o.mutant.key not in equivalent
    ]
    for mutant in survivors:
        print(f"survived: {mutant.path}:{mutant.line}: {mutant.description} | {mutant.source_line}")
    used = {o.mutant.key for o in outcomes}
    for key in equivalent:
        if key not in used and key[0] in {o.mutant.path for o in outcomes}:
            print(f"stale equivalent (no such mutant now): {' | '.join(key)}")
    score = _score(totals)
    print(f"mutation score {score:.1f}% (target {target:g}%)")
    return 0 if score >= target else 1


def _counts(outcomes: list[Outcome], equivalent: dict[tuple, str]) -> list[int]:
    equal = sum(o.status == "survived" and o.mutant.key in equivalent for o in outcomes)
    survived = sum(o.status == "survived" for o in outcomes) - equal
    killed = sum(o.status == "killed" for o in outcomes)
    timeout = sum(o.status == "timeout" for o in outcomes)
    return [len(outcomes), killed, timeout, survived, equal]


def _score(counts: list[int]) -> float:
    total, killed, timeout, _, equal = counts
    scored = total - equal
    return 100.0 * (killed + timeout) / scored if scored else 100.0


def _row(name: str, counts: list[int]) -> str:
    total, killed, timeout, survived, equal = counts
    return (
        f"{name:<26}{total:>8}{killed:>8}{timeout:>8}{survived:>9}{equal:>7}{_score(counts):>7.1f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
