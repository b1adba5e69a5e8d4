"""Which export made a set of embeddings: its folder, version and a checksum of its graph and weights, with its
training.json and, when it has one, its calibration.json (xmodal.serving.calibration).

Two exports with the same architecture share `saved_model.pb`; the checksum covers the variables
too, so embeddings of one export are never searched with queries embedded by another.
"""
import hashlib
import json

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.shards import sha256
from tfrecords_tools.dataset.validate import key_problem
from xmodal.serving.calibration import calibration_problem, read_measured
from xmodal.serving.versions import SAVED_MODEL, resolve_model

TRAINING = "training.json"
IDENTITY_KEYS = {"path": str, "sha256": str, "training": dict}  # "version": an integer or null; "calibration"


def export_identity(model: str) -> dict:
    """{path, version, sha256, training[, calibration]} of an export (a version folder, or a base: its newest
    version); `calibration` only when the export has one."""
    folder = resolve_model(model).resolve()
    files = [folder / SAVED_MODEL, *sorted((folder / "variables").glob("*"))]
    digest = hashlib.sha256("".join(f"{p.name}:{sha256(p)}\n" for p in files).encode()).hexdigest()
    training = folder / TRAINING
    matched = read_measured(folder)
    return {"path": str(folder), "version": int(folder.name) if folder.name.isdigit() else None, "sha256": digest,
            "training": json.loads(training.read_text()) if training.is_file() else {},
            **({"calibration": matched} if matched is not None else {})}


def identity_problem(where: str, identity: object) -> str | None:
    """What is wrong with a recorded export identity (found at `where`), or None."""
    problem = key_problem(where, identity, IDENTITY_KEYS)
    if problem is None and not (identity.get("version") is None or type(identity["version"]) is int):
        problem = f"key {where}.version must be an integer or null, not {identity['version']!r}"
    if problem is None and "calibration" in identity:
        problem = calibration_problem(f"{where}.calibration", identity["calibration"])
    return problem


def check_same_export(made_by: dict, model: dict, what: str) -> None:
    """A UserError when `model` is not the export that made `what` (compared by checksum, not by path)."""
    if made_by["sha256"] != model["sha256"]:
        version = f" (version {made_by['version']})" if made_by.get("version") is not None else ""
        raise UserError(f"{what} was made by the export {made_by['path']}{version}, not by {model['path']}: "
                        "its embeddings cannot be compared with this export's; use that export, or rebuild "
                        "with `python -m xmodal.index build`")
