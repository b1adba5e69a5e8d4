"""Configuration of a conversion: one frozen dataclass, its defaults the documented defaults."""
import dataclasses
import hashlib
from importlib import resources
from pathlib import Path

VIEWPOINT_SETS = {name: str(resources.files("tfrecords_tools") / "data" / f"{file}_viewpoints.txt")
                  for name, file in (("cars", "car"), ("generic", "generic"))}  # shipped sets, by --viewpoints name
DEFAULT_VIEWPOINTS = VIEWPOINT_SETS["cars"]


def viewpoint_file(name_or_path: str) -> str:
    """The viewpoint file of a shipped set's name (cars, generic), or the path given."""
    return VIEWPOINT_SETS.get(name_or_path, name_or_path)


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    """Settings of `python -m tfrecords_tools convert`."""

    meshes: str
    out: str
    format: str = "auto"  # input layout: synth, shapenet, r2n2, folder, or auto: detected (see sources.py)
    synsets: tuple[str, ...] = ()  # shapenet/r2n2: only these synset ids (e.g. 02958343, cars)
    voxel_res: int = 96
    image_size: int = 486
    views: int = 12
    workers: int = 2
    test_fraction: float = 0.2
    seed: int = 0
    viewpoints: str = DEFAULT_VIEWPOINTS
    background: str = "random"  # "random" (uniform colour per image) or "white"
    category: str = ""  # synth/folder: empty = from <meshes>/metadata.json or the class folder, else "object"
    shard_mb: float = 150.0  # target shard size

    def identity(self) -> dict:
        """The settings that determine the output bytes (not where or how fast it runs)."""
        fields = dataclasses.asdict(self)
        for key in ("out", "workers"):
            fields.pop(key)
        fields["meshes"] = str(Path(self.meshes).resolve())
        fields["synsets"] = list(self.synsets)
        fields["viewpoints"] = hashlib.sha256(Path(self.viewpoints).read_bytes()).hexdigest()
        return fields
