"""A pool of worker processes for the per-object work, started with `spawn`.

Rendering needs an EGL context, which must not share a process with TensorFlow (both bring
LLVM). Spawned children start a fresh interpreter, but they also re-import the parent's
`__main__` module: when the parent has loaded TensorFlow (`python -m xmodal.fit`), children are
started with a blank `__main__` instead, so they never load it. A worker that dies breaks the
pool with an error instead of leaving the run waiting.

Ctrl-C (SIGINT to the whole process group) is the parent's alone: children start with SIGINT
blocked, so a worker never dies half-way through a job or while starting; the parent cancels the
jobs not yet started and the workers exit after their current one. Workers ask the kernel for a
SIGTERM when their parent dies (`kill -9`), so none is left behind.
"""
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # prctl option, linux/prctl.h


def _call(job: tuple[Callable[..., T], tuple]) -> T:
    function, args = job
    return function(*args)


@contextlib.contextmanager
def children_without_tensorflow() -> Iterator[None]:
    """While children start, hide a `__main__` that imported TensorFlow (children would import it too)."""
    main = sys.modules["__main__"]
    if "tensorflow" in sys.modules:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """While children start, block SIGINT: they inherit the mask and never see Ctrl-C; the parent gets it after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def die_with_parent(parent: int) -> None:
    """Worker start: ask Linux for a SIGTERM when the parent dies; exit now if it already has."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def imap_spawned(function: Callable[..., T], jobs: Iterable[tuple], workers: int) -> Iterator[T]:
    """Yield function(*job) for each job in order, computed in `workers` spawned processes.

    Close the generator when stopping early (contextlib.closing): jobs not started are cancelled
    and the workers exit after their current job."""
    pool = ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        with children_without_tensorflow(), sigint_blocked():
            results = pool.map(_call, [(function, job) for job in jobs])  # submits all: children start here
        yield from results
    except BrokenProcessPool:
        raise RuntimeError("a worker process died (a crash in voxelising or rendering); "
                           "finished shards are kept: rerun to resume") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
