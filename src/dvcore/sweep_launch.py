"""Launching a sweep's runs: here, K at a time, or as a SLURM job array through submitit.

Every run is a separate ``dvcore run`` process (``torchrun`` around it when a run has
several processes), so a sweep adds no scheduler of its own: on one machine a thread pool
waits on K child processes whose CPU threads are split evenly between them; on a cluster
submitit submits one array job per run and SLURM schedules them. A run's output goes to
``<sweep dir>/logs/<point>.log``.

A signal to the sweep (SIGTERM, SIGINT) is passed on to its running children, which
checkpoint and stop; no new run starts, and the same ``dvcore sweep`` command resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from dvcore.sweep import BASE_RECIPE, Point, Status, Sweep, status


@attrs.frozen
class Job:
    """One run to launch: its command line, environment additions and log file."""

    point: Point
    status: Status
    argv: list[str]
    env: dict[str, str]
    log: Path


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_run(jobs: int, nproc_per_run: int, cpus: int | None = None) -> int:
    """The machine's cores split evenly between the processes that run at once (at least one each)."""
    return max(1, (cpus or cpu_count()) // (jobs * nproc_per_run))


def make_job(sweep: Sweep, point: Point, status: Status, log_dir: Path, threads: int) -> Job:
    """``dvcore run`` of the point (``--resume`` when it has a checkpoint), wrapped in torchrun when multi-
    process.
    """
    if status == "resume":
        args = ["--resume", str(point.run_dir)]
    else:
        args = [str(point.run_dir.parent / BASE_RECIPE), "--run-dir", str(point.run_dir)]
        for override in point.overrides:
            args += ["--set", override]
    module = ["-m", "dvcore", "run", *args, "--no-progress"]
    if sweep.nproc_per_run > 1:
        torchrun = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={sweep.nproc_per_run}"]
        argv = [sys.executable, *torchrun, *module]
    else:
        argv = [sys.executable, *module]
    env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return Job(point, status, argv, env, log_dir / f"{point.name}.log")


def set_aside(run_dir: Path) -> Path:
    """Move an unfinished run directory that has no checkpoint out of the way (never delete it)."""
    k = 1
    while (aside := run_dir.with_name(f"{run_dir.name}.incomplete-{k}")).exists():
        k += 1
    run_dir.rename(aside)
    return aside


def run_command(argv: list[str], env: dict[str, str], log: str) -> int:
    """Run one command with its output appended to ``log``; its exit status. (Also what a SLURM job runs.)"""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        return subprocess.run(
            argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        ).returncode


# ----------------------------------------------------------------------------------------------
# This machine
# ----------------------------------------------------------------------------------------------


class LocalLauncher:
    """Run the jobs here, ``jobs`` at a time; a signal stops the children (they checkpoint) and the queue."""

    def __init__(self, jobs: int, echo: Callable[[str], None]):
        self.jobs, self.echo = jobs, echo
        self.stopping = threading.Event()
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping.set()
        with self._lock:
            for child in self._live:
                child.send_signal(signal.SIGTERM)

    def _one(self, job: Job, index: int, total: int) -> int | None:
        if self.stopping.is_set():
            return None
        job.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.echo(
            f"[{index}/{total}] {job.point.name}: {'resuming' if job.status == 'resume' else 'started'}"
        )
        with open(job.log, "a") as out:
            out.write(f"$ {' '.join(job.argv)}\n")
            out.flush()
            with self._lock:
                child = subprocess.Popen(
                    job.argv, env={**os.environ, **job.env}, stdout=out, stderr=subprocess.STDOUT
                )
                self._live.add(child)
            code = child.wait()
            with self._lock:
                self._live.discard(child)
        self.echo(
            f"[{index}/{total}] {job.point.name}: exit {code} after {time.perf_counter() - started:.0f} s"
        )
        return code

    def run(self, jobs: list[Job]) -> dict[str, int | None]:
        """point name -> exit status (None: not started because the sweep was stopped)."""
        main = threading.current_thread() is threading.main_thread()
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
        try:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                futures = [pool.submit(self._one, job, i + 1, len(jobs)) for i, job in enumerate(jobs)]
                return {job.point.name: f.result() for job, f in zip(jobs, futures, strict=True)}
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


# ----------------------------------------------------------------------------------------------
# SLURM (or submitit's local executor) through submitit
# ----------------------------------------------------------------------------------------------


def submit(jobs: list[Job], executor: Any, parameters: dict[str, Any], parallel: int) -> list[Any]:
    """Submit the jobs as one job array; returns submitit's job handles (``.job_id``, ``.result()``)."""
    executor.update_parameters(**parameters)
    if parallel and "slurm_array_parallelism" not in parameters and hasattr(executor, "_executor"):
        executor.update_parameters(slurm_array_parallelism=parallel)
    handles: list[Any] = executor.map_array(
        run_command,
        [job.argv for job in jobs],
        [job.env for job in jobs],
        [str(job.log) for job in jobs],
    )
    return handles


def submitit_executor(kind: str, folder: Path) -> Any:
    """``slurm``: submitit's AutoExecutor on the cluster; ``submitit-local``: its local executor (same path,
    here).
    """
    import submitit

    if kind == "slurm":
        return submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    return submitit.LocalExecutor(folder=str(folder))


# ----------------------------------------------------------------------------------------------
# Driving a sweep: what is left, launched, and how each run ended
# ----------------------------------------------------------------------------------------------


def plan(points: list[Point]) -> dict[str, Status]:
    """point name -> done / resume / restart / new."""
    return {p.name: status(p) for p in points}


def launch(
    sweep: Sweep,
    points: list[Point],
    directory: Path,
    *,
    launcher: str,
    echo: Callable[[str], None],
    wait: bool = True,
    executor: Any = None,
) -> dict[str, str]:
    """Start every point that is not done; point name -> outcome (done, skipped, stopped, failed,
    submitted)."""
    states = plan(points)
    outcomes: dict[str, str] = {
        p.name: "skipped (completed earlier)" for p in points if states[p.name] == "done"
    }
    todo = _jobs(sweep, points, states, directory / "logs", _threads(sweep, launcher), echo)
    if not todo:
        return outcomes
    if launcher == "local":
        codes = LocalLauncher(sweep.jobs, echo).run(todo)
    else:
        executor = executor or submitit_executor(launcher, directory / "submitit")
        handles = submit(todo, executor, sweep.slurm, sweep.jobs)
        for job, handle in zip(todo, handles, strict=True):
            echo(f"{job.point.name}: submitted as job {handle.job_id}")
        if not wait:
            outcomes.update({job.point.name: "submitted" for job in todo})
            return outcomes
        codes = {job.point.name: handle.result() for job, handle in zip(todo, handles, strict=True)}
    for job in todo:
        outcomes[job.point.name] = _outcome(job, codes[job.point.name])
    return outcomes


def _threads(sweep: Sweep, launcher: str) -> int:
    """Intra-op threads per run process (0: leave the environment alone: SLURM without cpus_per_task)."""
    if launcher == "local":
        return threads_per_run(sweep.jobs, sweep.nproc_per_run)
    cpus = sweep.slurm.get("cpus_per_task")
    return max(1, int(cpus) // sweep.nproc_per_run) if cpus else 0


def _jobs(
    sweep: Sweep,
    points: list[Point],
    states: dict[str, Status],
    log_dir: Path,
    threads: int,
    echo: Callable[[str], None],
) -> list[Job]:
    """A job per point that is not done; an unfinished point without a checkpoint is set aside first."""
    todo = []
    for p in points:
        state = states[p.name]
        if state == "done":
            continue
        if state == "restart":
            echo(f"{p.name}: unfinished and without a checkpoint; moved to {set_aside(p.run_dir)}")
            state = "new"
        job = make_job(sweep, p, state, log_dir, threads)
        todo.append(job if threads else attrs.evolve(job, env={}))
    return todo


def _outcome(job: Job, code: int | None) -> str:
    """What became of a job's run, from its exit code and its run directory afterwards."""
    after = status(job.point)
    if after == "done":
        return "completed"
    if code is None:
        return "not started (sweep stopped)"
    if code == 0 or after == "resume":
        return "stopped (resumes from its checkpoint)"
    if code < 0:  # killed by a signal before it had a checkpoint: starts over next time
        return f"stopped by signal {-code} before its first checkpoint"
    return f"failed (exit {code}; see {job.log})"
