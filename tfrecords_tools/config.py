"""Configuration of a conversion: one frozen dataclass, its defaults the documented defaults."""
import dataclasses
import hashlib
from importlib import resources
from pathlib import Path

VIEWPOINT_SETS = {name: str(resources.files("tfrecords_tools") / "data" / f"{file}_viewpoints.txt")
                  for name, file in (("cars", "car"), ("generic", "generic"))}  # shipped sets, by --viewpoints name
AUTO_VIEWPOINTS = "auto"  # --viewpoints default: cars when every object is a car, else generic (convert.py)
RENDER_FLAGS = {"light_jitter": 1.0, "fov_jitter": 0.8, "off_centre": 1.0, "truncation": 1.0,
                "material_jitter": 1.0}  # per-image render randomisation (shots.py): each field's largest value


def flag(field: str) -> str:
    """The command-line flag of a ConvertConfig field: off_centre -> --off-centre."""
    return "--" + field.replace("_", "-")


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
    viewpoints: str = AUTO_VIEWPOINTS  # a viewpoint file, or auto: chosen by the objects' categories
    background: str = "random"  # "random" (uniform colour per image) or "white"
    category: str = ""  # synth/folder: empty = from <meshes>/metadata.json or the class folder, else "object"
    shard_mb: float = 150.0  # target shard size
    light_jitter: float = 0.0  # per image: key light turned and scaled, ambient scaled, maybe a fill light
    fov_jitter: float = 0.0  # per image: field of view scaled by U[1 - f, 1 + f], the framing distance to match
    off_centre: float = 0.0  # per image: the object's centre moved by up to this share of the half-frame in x and y
    truncation: float = 0.0  # per image: probability that the camera moves in until the border cuts the object
    material_jitter: float = 0.0  # per image: colours scaled per channel by U[1 - f, 1 + f], a specular highlight
    up: str = "y"  # the mesh files' up axis (x, y, z, -x, -y, -z), turned to +y

    def identity(self) -> dict:
        """The settings that determine the output bytes (not where or how fast it runs); viewpoints must be resolved
        from auto first (their file's hash is recorded)."""
        fields = dataclasses.asdict(self)
        for key in ("out", "workers"):
            fields.pop(key)
        fields["meshes"] = str(Path(self.meshes).resolve())
        fields["synsets"] = list(self.synsets)
        fields["viewpoints"] = hashlib.sha256(Path(self.viewpoints).read_bytes()).hexdigest()
        return fields
