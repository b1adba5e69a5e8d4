"""A pool of worker processes for the per-object work, started with `spawn`.

Rendering needs an EGL context, which must not share a process with TensorFlow; spawned
workers import neither TensorFlow nor anything the parent imported.
"""
import multiprocessing
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def _call(job: tuple[Callable[..., T], tuple]) -> T:
    function, args = job
    return function(*args)


def imap_spawned(function: Callable[..., T], jobs: Iterable[tuple], workers: int) -> Iterator[T]:
    """Yield function(*job) for each job in order, computed in `workers` spawned processes."""
    with multiprocessing.get_context("spawn").Pool(max(1, workers)) as pool:
        yield from pool.imap(_call, ((function, job) for job in jobs), chunksize=1)
