"""Versioned exports, laid out as TensorFlow Serving and TFX's Pusher do: `BASE/<version>/saved_model.pb`.

Each export becomes a new integer version, one above the highest; older versions are kept. A model
path given to a tool may be the base (its newest version is used) or one version folder. While an
export is written it lives in `BASE/.<version>.tmp-<pid>/`; the next export removes such folders
whose process is gone.
"""
import os
import re
from pathlib import Path

from tfrecords_tools.errors import UserError, first_few
from tfrecords_tools.flags import folder_output

SAVED_MODEL = "saved_model.pb"
VERSION = re.compile(r"[0-9]+")
TEMPORARY = re.compile(r"\.[0-9]+\.tmp-([0-9]+)")  # atomic.temporary_name of a version folder


def versions(base: Path) -> list[int]:
    """The versions under `base` that hold a SavedModel, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if VERSION.fullmatch(p.name) and (p / SAVED_MODEL).is_file())


def resolve_model(path: str) -> Path:
    """The SavedModel folder of `path`: the folder itself, or the newest version when `path` is a base."""
    folder = Path(path)
    if (folder / SAVED_MODEL).is_file():
        return folder
    found = versions(folder)
    if not found:
        raise UserError(f"{path} is not a SavedModel (no saved_model.pb) nor a folder of versions of one: "
                        "pass the folder `xmodal.fit --export` wrote, or one of its numbered versions")
    return folder / str(found[-1])


def is_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def is_ours(entry: Path) -> bool:
    """Whether an entry of an export base is a version or an export's temporary folder."""
    if VERSION.fullmatch(entry.name):
        return (entry / SAVED_MODEL).is_file()
    return TEMPORARY.fullmatch(entry.name) is not None and entry.is_dir()


def stale_temporaries(base: Path) -> list[Path]:
    """Temporary folders under `base` of exports whose process is gone (killed mid-write)."""
    return [p for p in base.iterdir()
            if (match := TEMPORARY.fullmatch(p.name)) and p.is_dir() and not is_alive(int(match[1]))]


def overlaps(a: Path, b: Path) -> bool:
    """Whether two folders are the same or one holds the other."""
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def check_export_base(base: str, run_dir: str) -> Path:
    """`base` created if needed; a UserError when it overlaps the run, holds anything not ours, or is not writable."""
    folder = Path(base)
    if overlaps(folder, Path(run_dir)):
        raise UserError(f"--export {base} overlaps the run directory {run_dir} (checkpoints and logs): "
                        "choose an export folder outside it")
    if folder.is_dir() and (folder / SAVED_MODEL).is_file():
        raise UserError(f"--export {base} holds an unversioned SavedModel: move its contents to {base}/1 "
                        "(or choose another --export) so that it is kept")
    foreign = sorted(p.name for p in folder.iterdir() if not is_ours(p)) if folder.is_dir() else []
    if foreign:
        raise UserError(f"--export {base} holds other files than exported versions ({first_few(foreign)}): "
                        "choose a new or empty folder")
    return folder_output(base, "--export")


def next_version(base: Path) -> int:
    """One above every numbered folder under `base` (1 for an empty base)."""
    return 1 + max((int(p.name) for p in base.iterdir() if VERSION.fullmatch(p.name)), default=0)


def publish(tmp: Path, base: Path) -> Path:
    """Rename a finished export folder to the next free version of `base` and return that version's path."""
    while True:
        target = base / str(next_version(base))
        try:
            os.rename(tmp, target)  # fails on a non-empty target: another export took this number first
            return target
        except OSError:
            if not target.exists():
                raise

MODEL_HELP = "export written by xmodal.fit: its folder (the newest version is used) or one numbered version in it"
