"""A pool of worker processes for the per-object work, started with `spawn`.

Rendering needs an EGL context, which must not share a process with TensorFlow (both bring
LLVM). Spawned children start a fresh interpreter, but they also re-import the parent's
`__main__` module: when the parent has loaded TensorFlow (`python -m xmodal.fit`), children are
started with a blank `__main__` instead, so they never load it. A worker that dies is reported
with an error instead of leaving the run waiting.

Stopping is the parent's alone. Children start with SIGINT blocked, so Ctrl-C (sent to the whole
process group by a terminal) reaches only the parent, which then terminates its workers at once,
whatever they are doing; the finished work is written by the parent only, so nothing is half
done. A Ctrl-C while the children start waits until they have all started (interrupting the
parent half-way through handing a child its start-up data would make the child fail with
`EOFError: Ran out of input`): the signal may be delivered to any of the parent's threads, so
blocking it in the main thread is not enough, and the parent's handler defers it instead.
Workers ask Linux for a SIGTERM when their parent dies (`kill -9`), so none is left behind.
"""
import contextlib
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import types
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or `taskset` may narrow)."""
    return len(os.sched_getaffinity(0))
PR_SET_PDEATHSIG = 1  # prctl option, linux/prctl.h
POLL_SECONDS = 1.0  # how often the parent checks that its workers are alive while it waits


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
    """While children start, block SIGINT (they inherit the mask and never see Ctrl-C) and defer the parent's Ctrl-C,
    whichever thread receives it, to the end of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
        signal.signal(signal.SIGINT, handler)
        if received and callable(handler):
            handler(signal.SIGINT, None)  # the deferred Ctrl-C: KeyboardInterrupt under the default handler


def die_with_parent(parent: int) -> None:
    """In a worker: ask Linux for a SIGTERM when the parent dies; end now if it already has."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def sendable(error: Exception) -> Exception:
    """The error itself if it pickles, else a RuntimeError with its text."""
    try:
        pickle.dumps(error)
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def serve(function: bytes, tasks: multiprocessing.Queue, results: multiprocessing.Queue, parent: int) -> None:
    """A worker: run the pickled function on (index, args) tasks until None, putting (index, ok, result or error)."""
    die_with_parent(parent)  # before unpickling the function, which imports its (slow) module
    function = pickle.loads(function)
    for index, args in iter(tasks.get, None):
        try:
            results.put((index, True, function(*args)))
        except Exception as error:
            results.put((index, False, sendable(error)))


def next_result(results: multiprocessing.Queue, processes: list) -> tuple:
    """The next (index, ok, value) from the workers; a RuntimeError when one of them died."""
    while True:
        try:
            return results.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a worker process died (a crash in voxelising or rendering); "
                                   "finished shards are kept: rerun to resume") from None


def imap_spawned(function: Callable[..., T], jobs: Iterable[tuple], workers: int) -> Iterator[T]:
    """Yield function(*job) for each job in order, computed in `workers` spawned processes.

    The workers are terminated when the generator is closed early (use contextlib.closing) or fails."""
    jobs = list(jobs)
    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    tasks.cancel_join_thread()  # at exit, tasks no worker took are dropped rather than waited for
    count = max(1, min(workers, len(jobs)))
    for task in [*enumerate(jobs), *[None] * count]:
        tasks.put(task)
    processes = [context.Process(target=serve, args=(pickle.dumps(function), tasks, results, os.getpid()), daemon=True)
                 for _ in range(count)]
    try:
        with children_without_tensorflow(), sigint_blocked():
            for process in processes:
                process.start()
        finished = {}
        for index in range(len(jobs)):
            while index not in finished:
                done, ok, value = next_result(results, processes)
                finished[done] = (ok, value)
            ok, value = finished.pop(index)
            if not ok:
                raise value
            yield value
    finally:
        started = [process for process in processes if process.pid is not None]
        for process in started:
            process.terminate()
        for process in started:
            process.join()
