"""The per-object work of a conversion: one mesh file -> voxels, renders and viewpoints.

Shared by the local converter and the Beam pipeline; it never imports TensorFlow (see render.py).
"""
import dataclasses
import functools
import hashlib
import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tfrecords_tools.meshes.binvox import BadBinvox, read_binvox, resample
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.meshes.framing import FOV_DEGREES, framed
from tfrecords_tools.meshes.load import BadMesh, Mesh, load_mesh
from tfrecords_tools.meshes.open_surfaces import mesh_voxels
from tfrecords_tools.meshes.shots import draw_shot, truncated
from tfrecords_tools.meshes.sources import Source
from tfrecords_tools.meshes.viewpoints import ViewpointSampler
from tfrecords_tools.meshes.voxel_mesh import voxel_mesh

PNG_COMPRESS_LEVEL = 3  # zlib level: most of the size gain of level 6 at a third of its time


@dataclasses.dataclass(frozen=True)
class ObjectRecord:
    """One converted object, in the fields of the TFRecord format (docs/format.md)."""

    object_id: str
    category: str
    voxel_res: int
    voxels: bytes  # np.packbits of the C-order (R, R, R) bool grid [x, y, z]
    images: tuple[bytes, ...]  # V RGBA PNG images, alpha the object's coverage
    viewpoints: tuple[float, ...]  # V x 4: azimuth, elevation, in-plane rotation, distance
    warnings: tuple[str, ...] = ()  # recorded in the manifest, not in the record (an open surface, stray vertices)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An input that could not be converted, and why."""

    path: str
    reason: str


def object_rng(seed: int, object_id: str) -> np.random.Generator:
    """The random stream of one object: fixed by the seed and the id, whatever the worker order."""
    return np.random.default_rng([seed, zlib.crc32(object_id.encode())])


def shot_rng(seed: int, object_id: str) -> np.random.Generator:
    """The random stream of one object's render randomisation: apart from object_rng's, whose draws it leaves as they
    were."""
    return np.random.default_rng([seed, zlib.crc32(object_id.encode()), 1])


@functools.cache
def sampler(viewpoints_path: str) -> ViewpointSampler:
    """This process's KDE viewpoint sampler for a viewpoint file."""
    return ViewpointSampler.from_file(viewpoints_path)


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an (S, S, 4) uint8 RGBA image (or an (S, S, 3) RGB one)."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def camera_views(cfg: ConvertConfig, mesh: Mesh, rng: np.random.Generator,
                 fov: float | np.ndarray = FOV_DEGREES) -> np.ndarray:
    """(V, 4) viewpoints of one object, each moved back where needed to keep the whole object in a picture of `fov`
    degrees (one, or (V,) one per view)."""
    return framed(sampler(cfg.viewpoints).sample(cfg.views, rng), mesh.vertices, fov)


def backgrounds(cfg: ConvertConfig, rng: np.random.Generator) -> np.ndarray:
    """(V, 3) uint8 background colours: uniform random per image, or white."""
    if cfg.background == "white":
        return np.full((cfg.views, 3), 255, np.uint8)
    return rng.integers(0, 256, (cfg.views, 3), dtype=np.uint8)


def convert_object(source: Source, cfg: ConvertConfig) -> ObjectRecord | Skipped:
    """Voxels, renders and viewpoints of one object; a bad input becomes a Skipped with its reason."""
    try:
        if source.renderings:
            return r2n2_object(source, cfg)
        return mesh_object(source, cfg)
    except (BadMesh, BadBinvox) as error:
        return Skipped(source.path, str(error))
    except Exception as error:  # noqa: BLE001  whatever fails on one input skips that input, never the run
        return Skipped(source.path, f"{type(error).__name__}: {error}")


def mesh_object(source: Source, cfg: ConvertConfig) -> ObjectRecord:
    """Voxelise and render one mesh file."""
    from tfrecords_tools.meshes.render import renderer  # OpenGL only in worker processes (see render.py)

    mesh = load_mesh(Path(source.path), cfg.up)
    voxels, open_warnings = mesh_voxels(mesh, cfg.voxel_res)  # (R, R, R) bool
    if not voxels.any():
        raise BadMesh("zero volume: no voxel occupied")
    rng, render_rng = object_rng(cfg.seed, source.object_id), shot_rng(cfg.seed, source.object_id)
    shots = [draw_shot(cfg, render_rng) for _ in range(cfg.views)]
    views = truncated(camera_views(cfg, mesh, rng, np.array([s.fov for s in shots])), mesh.vertices, shots)  # (V, 4)
    colors = backgrounds(cfg, rng)
    draw = renderer(cfg.image_size)
    images = tuple(png(draw.render(mesh, view, color, shot)) for view, color, shot in zip(views, colors, shots))
    return record(source, cfg, voxels, images, views, mesh.warnings + open_warnings)


def r2n2_object(source: Source, cfg: ConvertConfig) -> ObjectRecord:
    """3D-R2N2's voxels (resampled to voxel-res) and its RGBA renders composited and resized, alpha kept."""
    voxels = read_binvox(Path(source.path)).voxels
    if voxels.shape[0] != cfg.voxel_res:
        voxels = resample(voxels, cfg.voxel_res)
    folder = Path(source.renderings)
    names = (folder / "renderings.txt").read_text().split()
    views = np.loadtxt(folder / "rendering_metadata.txt", ndmin=2)[:, :4]  # azimuth, elevation, in-plane, distance
    if len(names) < cfg.views or len(views) < cfg.views:
        raise ValueError(f"{len(names)} renders and {len(views)} viewpoints, fewer than --views {cfg.views}")
    colors = backgrounds(cfg, object_rng(cfg.seed, source.object_id))
    images = tuple(png(composite(folder / name, color, cfg.image_size)) for name, color in zip(names, colors))
    return record(source, cfg, voxels, images, views[:cfg.views])


def composite(path: Path, background: np.ndarray, size: int) -> np.ndarray:
    """(S, S, 4) uint8: an RGBA render over a uniform background, resized; alpha its own, resized alike (the mask)."""
    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, tuple(int(c) for c in background) + (255,))
    out = Image.alpha_composite(canvas, rgba).convert("RGB").resize((size, size), Image.BILINEAR)
    out.putalpha(rgba.getchannel("A").resize((size, size), Image.BILINEAR))
    return np.asarray(out)


def record(source: Source, cfg: ConvertConfig, voxels: np.ndarray, images: tuple, views: np.ndarray,
           warnings: tuple[str, ...] = ()) -> ObjectRecord:
    """The record of one object."""
    return ObjectRecord(source.object_id, source.category, cfg.voxel_res, np.packbits(voxels).tobytes(), images,
                        tuple(float(x) for x in views.astype(np.float32).ravel()), warnings)


def grid_digest(result: ObjectRecord) -> str:
    """The SHA-256 of an object's packed voxel grid: equal for identical grids."""
    return hashlib.sha256(result.voxels).hexdigest()


def warning_entries(result: ObjectRecord) -> list[dict]:
    """The manifest entries of one object's warnings."""
    return [{"object_id": result.object_id, "warning": warning} for warning in result.warnings]


def render_voxels(voxels: np.ndarray, viewpoint: np.ndarray, size: int) -> np.ndarray:
    """An (S, S, 3) uint8 picture of a voxel grid's surface on white, to show what the voxels hold."""
    from tfrecords_tools.meshes.render import renderer  # OpenGL only in worker processes (see render.py)

    return renderer(size).render(voxel_mesh(voxels), viewpoint, np.full(3, 255, np.uint8))[..., :3]
