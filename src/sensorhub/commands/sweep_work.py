"""The work of ``sensorhub sweep``, wherever it runs: one parameter set replayed over one
recording (:func:`replay_part`), and the two ways to run many of them: local processes
(:class:`LocalPool`) and a Dask distributed cluster (:class:`DaskPool`).

A task carries all it needs (the validated rules, the path of the recording), so any process
that has sensorhub installed and sees the recording at that path can run it, and its part comes
back as plain counts and the pages' JSON lines: the same whoever ran it.

numba loads the compiled classifier from its on-disk cache (``sensorhub.jit``) at the first
replay of a process and keeps it for every later task of that process: a worker pays that once,
not per task. What is not in the cache yet is compiled at that first call, so the first task of
a sweep runs alone (locally in the command's own process, which has imported everything
already), and every process after it finds the cache filled (where the workers share the
installation, as local processes and a ``LocalCluster`` do; a cluster of other machines needs
``python -m sensorhub.core.warm`` run once on each). Each part says how many of the
project's compiled functions its process had to compile (numba's cache misses), so the sweep
can say so when a worker compiled instead of loading.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from sensorhub.codec.formats import RecordingError
from sensorhub.commands.replay import replay
from sensorhub.evaluation.sweep import Counts
from sensorhub.rules import default_rules_path, load_rule_file
from sensorhub.rules.model import RuleFile
from sensorhub.rules.policy import Policy


@dataclass(frozen=True, slots=True)
class Task:
    """Replay ``recording`` under parameter set ``number``'s ``rules``."""

    number: int
    recording: str
    rules: RuleFile
    lateness: float
    #: send the pages back (to be scored against a ground truth)
    pages: bool


@dataclass(frozen=True, slots=True)
class Part:
    """What one task gave: the counts, and the pages as the JSON lines ``replay`` wrote."""

    number: int
    recording: str
    counts: Counts
    pages: bytes
    seconds: float
    #: ``host:pid`` of the process that ran it
    worker: str
    #: the project's compiled functions that process had to compile so far (numba cache misses)
    compiled: int
    #: why the recording could not be replayed (then nothing else is set)
    error: str | None = None


def replay_part(task: Task) -> Part:
    """Replay one recording under one parameter set, in a worker process (local or Dask's).

    Before the process's first replay and after it (numba's cache loaded), what the process
    holds is frozen (``gc.freeze``, as ``sensorhub.cli`` does after its imports): the garbage
    collector would walk those objects again and again in every replay (a sweep of 13 sets of
    the site-week in two processes: 7.3 cpu seconds before, 5.6 after)."""
    global _replays  # noqa: PLW0603 - what this process has done, for the garbage collector
    if _replays == 0:
        gc.freeze()
    part = _replay_part(task)
    _replays += 1
    if _replays == 1:
        gc.freeze()
    return part


#: Replays this worker process has run (see :func:`replay_part`).
_replays = 0


def _replay_part(task: Task) -> Part:
    """Replay one recording under one parameter set, in this process."""
    started = time.perf_counter()
    policy = Policy(task.rules, base=_shipped_rules())
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="sensorhub-sweep-") as folder:
        pages = Path(folder) / "pages.jsonl"
        try:
            with _dead_letters_untold():
                summary = replay(
                    Path(task.recording),
                    policy,
                    pages,
                    deadletter_path=Path(folder) / "deadletter.jsonl",
                    lateness=task.lateness,
                )
        except (RecordingError, OSError) as error:
            return Part(task.number, task.recording, Counts(), b"", 0.0, worker, 0, str(error))
        lines = pages.read_bytes() if task.pages else b""
    counts = Counts(
        lines=summary.lines,
        events=summary.events,
        dead_letters=summary.dead_letters,
        raw_alarms=summary.raw_alarms,
        reactions=summary.reactions,
        technical_pages=summary.technical_pages,
        escalations=summary.escalations,
    )
    seconds = time.perf_counter() - started
    return Part(task.number, task.recording, counts, lines, seconds, worker, compiled_here())


@cache
def _shipped_rules() -> RuleFile:
    """The shipped reference policy, read once a process."""
    return load_rule_file(default_rules_path())


class _Untold(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "not valid events" not in record.getMessage()


@contextmanager
def _dead_letters_untold() -> Iterator[None]:
    """Without replay's warning about dead letters, once per task: the sweep counts them and
    says so once."""
    logger = logging.getLogger("sensorhub.commands.replay")
    untold = _Untold()
    logger.addFilter(untold)
    try:
        yield
    finally:
        logger.removeFilter(untold)


def compiled_here() -> int:
    """How many times this process compiled one of the project's compiled functions because
    numba's cache did not have it (0: everything came from the cache)."""
    try:
        from numba.core.dispatcher import Dispatcher  # noqa: PLC0415 - numba's own class
    except ImportError:  # pragma: no cover - numba is a dependency
        return 0
    misses = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("sensorhub."):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher):
                stats = getattr(value, "stats", None)
                misses += sum(getattr(stats, "cache_misses", {}).values())
    return misses


# --- running many --------------------------------------------------------------------------------


class _Pool:
    """What runs the tasks; a context manager that lets go of its processes or cluster."""

    where: str

    def run(self, tasks: Sequence[Task]) -> Iterator[Part]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


#: About what a local process costs to start, in seconds of a core: importing sensorhub and
#: numba and loading the classifier from numba's cache (docs/benchmarks.md, sweep.py).
PROCESS_START: Final = 1.5


class LocalPool(_Pool):
    """Up to ``jobs`` local processes (started fresh, ``spawn``: no state of this process
    carried over). The first task runs in this process, which has imported everything already
    (and so fills numba's cache for the processes); the others run in the processes, unless
    ``adaptive`` and the second replay (here too) says that starting them would cost more than
    they save (``worth_processes``): then they run here, one after the other."""

    def __init__(self, jobs: int, *, adaptive: bool = False) -> None:
        self.jobs = jobs
        self.adaptive = adaptive
        self.where = "this process"
        self.note = ""
        self._pool: ProcessPoolExecutor | None = None

    def run(self, tasks: Sequence[Task]) -> Iterator[Part]:
        if not tasks:
            return
        # the command's own process (sensorhub.cli froze what it imported)
        yield _replay_part(tasks[0])
        rest = tasks[1:]
        if self.jobs == 1 or not rest:
            yield from map(_replay_part, rest)
            return
        if self.adaptive:
            # the second replay says what one costs: the first also loaded numba's cache
            second = _replay_part(rest[0])
            yield second
            rest = rest[1:]
            if not rest:
                return
            if not worth_processes(second.seconds * len(rest), self.jobs):
                self.note = (
                    f"a replay took {second.seconds:.1f} s: the other {len(rest)} ran in this "
                    f"process too, as starting {self.jobs} processes would cost more than they "
                    "save (give --jobs to have them anyway)"
                )
                yield from map(_replay_part, rest)
                return
        pool = self._pool = ProcessPoolExecutor(
            self.jobs, mp_context=multiprocessing.get_context("spawn")
        )
        self.where = f"this process and {self.jobs} local processes"

        futures = [pool.submit(replay_part, task) for task in rest]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def worth_processes(seconds_left: float, jobs: int) -> bool:
    """Whether ``jobs`` processes save more than their start costs, for replays that would
    take ``seconds_left`` here, one after the other (each process starts on a core of its
    own, at the same time)."""
    return seconds_left * (1 - 1 / jobs) > PROCESS_START


class ClusterError(Exception):
    """The Dask scheduler cannot be used: the message says why and what to do."""


class DaskPool(_Pool):
    """The workers of the Dask distributed cluster whose scheduler is at ``address``."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        try:
            import distributed  # noqa: PLC0415 - an optional extra, only for --scheduler
        except ImportError:
            raise ClusterError(
                "--scheduler needs Dask's distributed scheduler, which is not installed: "
                "pip install 'sensorhub[cluster]'"
            ) from None
        self._distributed = distributed
        try:
            self._client = distributed.Client(  # type: ignore[no-untyped-call]
                address, timeout=timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({error}): "
                "is `dask scheduler` running there, and the address tcp://HOST:PORT?"
            ) from None
        workers = self._client.scheduler_info().get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.where = f"the Dask cluster at {address} ({len(workers)} workers, {threads} threads)"

    def run(self, tasks: Sequence[Task]) -> Iterator[Part]:
        """The parts as they complete; the first task alone (see the module docstring)."""
        if not tasks:
            return
        client = self._client
        yield client.submit(replay_part, tasks[0], pure=False).result()
        futures = [client.submit(replay_part, task, pure=False) for task in tasks[1:]]
        completing = self._distributed.as_completed  # untyped: Dask has no type hints here
        try:
            for future in completing(futures, loop=client.loop):  # type: ignore[no-untyped-call]
                yield future.result()
        finally:
            client.cancel(futures)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
