"""`hp-batch`: price Parquet or CSV partitions on a Dask cluster. Needs the `dask` extra."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from houseprice.core import defaults
from houseprice.core.cli import (
    EXIT_SERVER,
    EXIT_USAGE,
    OneLineParser,
    cpu_count,
    fail,
    fail_with,
    require_extra,
    require_installed,
    warn,
    worker_count,
)

PROG = "hp-batch"
EXTRA = ("dask.dataframe", "distributed", "pyarrow")  # the `dask` extra's modules hp-batch uses


def _margin(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a margin (a number >= 0)")
    return value


def _folder(text: str) -> Path:
    if not text.strip():  # Path("") would be ".", the current folder
        raise argparse.ArgumentTypeError("OUTPUT must not be empty")
    return Path(text)


DESCRIPTION = "Price every house in Parquet or CSV partitions on a Dask cluster."
EPILOG = (
    "exit codes: 1 bad input (the file and row are named), 2 bad usage, 3 bad model, "
    "5 OUTPUT cannot be written, 6 the dask extra is missing, 7 the cluster failed, "
    "130/143 interrupted. OUTPUT appears only when every partition succeeded."
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "input", metavar="INPUT", help="a Parquet or CSV file, a folder of them, or a glob"
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        type=_folder,
        help="folder for the priced partitions; an existing one is replaced only if it is empty "
        "or was written by hp-batch (see --overwrite), never if it holds or lies in INPUT",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT even if it holds files hp-batch did not write",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="let Dask's own log lines (worker errors, warnings) through to stderr",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=defaults.MODEL,
        help="exported model: .onnx, .ort or .npz [%(default)s]",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    where.add_argument(
        "--local-workers",
        type=worker_count,
        help="worker processes of the local cluster [one per CPU]",
    )
    parser.add_argument(
        "--format",
        choices=["parquet", "csv"],
        default="parquet",
        help="output format [%(default)s]",
    )
    parser.add_argument(
        "--price-column", default="price", help="name of the added column [%(default)s]"
    )
    parser.add_argument(
        "--margin",
        type=_margin,
        default=defaults.MARGIN,
        help="warn about features beyond this fraction of their training span [%(default)s]",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from houseprice.core.errors import Interrupted
    from houseprice.core.signals import raise_on_signals

    raise_on_signals()
    written: list[Path] = []  # OUTPUT, once it has been put in place
    try:
        _main(argv, written)
    except Interrupted as exc:
        what = f"after writing {written[0]}" if written else "; nothing written"
        sys.stderr.write(f"{PROG}: interrupted{' ' if written else ''}{what}\n")
        raise SystemExit(exc.exit_code) from None


def _main(argv: Sequence[str] | None, written: list[Path]) -> None:
    args = build_parser().parse_args(argv)
    if not args.price_column.strip():
        fail(PROG, "--price-column must not be empty", 2)
    require_installed(PROG, "dask", *EXTRA)
    from houseprice.batch.errors import ClusterError, OutputRefused
    from houseprice.batch.plan import BatchConfig, check_job, plan_batch
    from houseprice.core.errors import InputError, ModelError, OutputError

    config = BatchConfig(
        input=args.input,
        output=args.output,
        model=args.model,
        format=args.format,
        price_column=args.price_column,
        margin=args.margin,
        progress=sys.stderr.isatty(),
        overwrite=args.overwrite,
    )
    try:
        checked = check_job(config)  # INPUT, OUTPUT and the model, before Dask's import
        require_extra(PROG, "dask", *EXTRA)
        from houseprice.batch.job import run_batch

        plan = plan_batch(checked)  # refusals cost no cluster start
        with _cluster(args) as client:
            result = run_batch(plan, client, on_written=lambda: written.append(args.output))
    except OutputRefused as exc:
        fail(PROG, str(exc), EXIT_USAGE)
    except (InputError, ModelError, OutputError) as exc:
        fail_with(PROG, exc)
    except ClusterError as exc:
        fail(PROG, str(exc), EXIT_SERVER)
    for report in result.out_of_range:
        warn(PROG, report.message())
    sys.stderr.write(
        f"{PROG}: priced {result.rows:,} houses in {result.partitions} partition(s) in "
        f"{result.seconds:.1f} s; wrote {args.output}\n"
    )


SCHEDULER_TIMEOUT = "10s"  # how long Dask keeps trying a scheduler that does not answer


def _refuse_fast(address: str) -> None:
    """Raise ConnectionRefusedError at once when nothing listens at a TCP or TLS scheduler
    address. Dask retries a refused connection until its timeout, which is right for a
    scheduler still starting and only a 10 s wait for a typo'd port. Other schemes, and hosts
    that do not answer at all, are left to Dask. A probe that connects is closed at once (a
    scheduler may log it as a connection closed before its handshake)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls"):
        return
    host, port = parse_host_port(location)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except ConnectionRefusedError:
        raise ConnectionRefusedError(f"connection refused at {host}:{port}") from None
    except OSError:
        pass  # unresolvable, unreachable or slow: Dask's own attempt says which


class _cluster:
    """A Client on the given scheduler, or on a LocalCluster that lives as long as the job."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> Any:
        import contextlib
        import logging

        from distributed import Client, LocalCluster

        from houseprice.batch.errors import ClusterError

        if self.args.scheduler:
            try:
                _refuse_fast(self.args.scheduler)
                self.client = Client(self.args.scheduler, timeout=SCHEDULER_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(
                    f"cannot reach the scheduler at {self.args.scheduler}: {exc}"
                ) from None
            return self.client
        # No dashboard (no port to collide with, nothing listening beyond the job), quiet logs,
        # one thread per worker process: onnxruntime and pandas use the process's core.
        quiet = logging.WARNING if self.args.verbose else logging.CRITICAL
        try:
            with contextlib.nullcontext() if self.args.verbose else _children_silenced():
                self.cluster = LocalCluster(
                    n_workers=self.args.local_workers or cpu_count(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=quiet,
                )
                self.client = Client(self.cluster)
        except BaseException:
            self.__exit__()
            raise
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@contextlib.contextmanager
def _children_silenced() -> Iterator[None]:
    """Processes started in the block get /dev/null as stderr. The workers' errors reach the
    user as the job's one-line error (a task's exception travels back to the client); what they
    would print themselves (Dask's log lines, the traceback of a worker stopped by a terminal's
    Ctrl-C, which the whole process group receives) is noise, shown only with --verbose."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
