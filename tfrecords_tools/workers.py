"""A pool of worker processes for the per-object work, started with `spawn`.

Rendering needs an EGL context, which must not share a process with TensorFlow (both bring
LLVM). Spawned children start a fresh interpreter, but they also re-import the parent's
`__main__` module: when the parent has loaded TensorFlow (`python -m xmodal.fit`), children are
started with a blank `__main__` instead, so they never load it. A worker that dies breaks the
pool with an error instead of leaving the run waiting.
"""
import contextlib
import multiprocessing
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


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


def imap_spawned(function: Callable[..., T], jobs: Iterable[tuple], workers: int) -> Iterator[T]:
    """Yield function(*job) for each job in order, computed in `workers` spawned processes."""
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        with children_without_tensorflow():
            results = pool.map(_call, [(function, job) for job in jobs])  # submits all: children start here
        try:
            yield from results
        except BrokenProcessPool:
            raise RuntimeError("a worker process died (a crash in voxelising or rendering); "
                               "finished shards are kept: rerun to resume") from None
