"""Searching a catalogue with a picture or a mesh: what `xmodal.retrieve` and `xmodal.serve` both call.

Pictures are checked with PIL before TensorFlow decodes them (a broken file or a decompression bomb
is a UserError, never a crash); meshes are voxelised by tfrecords_tools as the converter does.
"""
import dataclasses
import tempfile
from pathlib import Path

import faiss
import numpy as np
from PIL import Image

from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes.load import MESH_SUFFIXES, BadMesh, load_mesh
from tfrecords_tools.meshes.open_surfaces import mesh_voxels
from xmodal.serving.calibration import CALIBRATION, Calibration, calibration
from xmodal.serving.embedder import Embedder, load_embedder
from xmodal.search.query_image import letterboxed, png_bytes, read_picture
from xmodal.search.catalogue import Catalogue, Hit, in_memory
from xmodal.search.entries import dataset_entries, joined
from xmodal.search.folder import INDEX, open_index
from xmodal.search.provenance import check_same_export, export_identity

MAX_SIDE = 1024  # query pictures are reduced to this many pixels on their longer side before embedding


@dataclasses.dataclass(frozen=True)
class Searcher:
    """An export, the catalogue its embeddings were made by, and the export's calibration (None when it has none)."""

    embedder: Embedder
    catalogue: Catalogue
    calibration: Calibration | None = None

    def pictures(self, files: list[bytes], k: int, category: str | None = None) -> list[list[Hit]]:
        """The k shapes nearest to each picture file (checked with query_picture first), each with its confidence
        when the export is calibrated."""
        found = self.catalogue.nearest(self.embedder.encoded([query_picture(f) for f in files]), k, category)
        if self.calibration is None:
            return found
        return [[dataclasses.replace(hit, confidence=self.calibration.confidence(hit.distance)) for hit in hits]
                for hits in found]

    def unlike(self, hits: list[Hit]) -> bool | None:
        """Whether a picture's nearest shape is farther than any matched pair (None: not calibrated, or no hit)."""
        return None if self.calibration is None or not hits else self.calibration.unlike(hits[0].distance)

    def note(self, hits: list[Hit]) -> str | None:
        """What a picture query's results say beyond their distances, in one line, or None."""
        if self.calibration is None:
            return (f"no confidence: the export has no {CALIBRATION} (it was made before exports were calibrated; "
                    "a new `python -m xmodal.fit` export has one)")
        if self.unlike(hits):
            return (f"the query looks unlike the catalogue: its nearest shape is {hits[0].distance:.4f} away, farther "
                    f"than any {self.calibration.split} picture from its own shape (at most "
                    f"{self.calibration.distances[-1]:.4f})")
        return None

    def mesh(self, data: bytes, suffix: str, k: int, category: str | None = None) -> list[Hit]:
        """The k shapes nearest to a mesh file's voxels (shape -> shape)."""
        voxels = mesh_file_voxels(data, suffix, self.embedder.voxel_res)
        return self.catalogue.nearest(self.embedder.voxels(voxels[None].astype(np.uint8)), k, category)[0]


def open_searcher(index: str, model: str = "") -> Searcher:
    """The searcher of an index folder (or of a converted dataset, embedded now), through the index's export;
    `model`, when given, must be that export. FAISS then searches with one thread per query: at batch 1 that is
    about 3x faster than two (bench/index.py), and a server's concurrency comes from its requests."""
    faiss.omp_set_num_threads(1)
    if not (Path(index) / INDEX).is_file() and (Path(index) / "manifest.json").is_file():
        if not model:
            raise UserError(f"{index} is a dataset, not an index: pass --model to embed it, or build an index "
                            "with `python -m xmodal.index build`")
        embedder, identity = load_embedder(model), export_identity(model)
        catalogue = in_memory(joined(list(dataset_entries(embedder, index))), identity, index)
        return Searcher(embedder, catalogue, calibration(identity))
    catalogue = open_index(index)
    if not model and not Path(catalogue.export["path"]).is_dir():
        raise UserError(f"the export {catalogue.export['path']} that made the index {index} is gone: pass --model "
                        "with a copy of it, or rebuild the index")
    identity = export_identity(model or catalogue.export["path"])
    check_same_export(catalogue.export, identity, f"the index {index}")
    return Searcher(load_embedder(identity["path"]), catalogue, calibration(identity))


def query_picture(data: bytes, name: str = "the query") -> bytes:
    """A picture file as 8-bit RGB PNG bytes (transparency on white), at most MAX_SIDE pixels a side, letterboxed to
    a square on white; a UserError when it is not a readable picture or is over PIL's pixel limit (a decompression
    bomb). Letterboxed here, not only in the graph, so exports made before `embed_png` letterboxed do not stretch."""
    picture = read_picture(data, name)
    if max(picture.size) > MAX_SIDE:  # the encoders see 64-128 pixels: a photo's full size only costs time
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return png_bytes(letterboxed(picture))


def mesh_file_voxels(data: bytes, suffix: str, res: int) -> np.ndarray:
    """(R, R, R) bool voxels of a mesh file's bytes, voxelised as the converter does; a UserError when it fails."""
    suffix = suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise UserError(f"meshes must be one of {', '.join(MESH_SUFFIXES)}, not {suffix or 'a file without suffix'}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"query{suffix}"
        path.write_bytes(data)
        try:
            voxels, _ = mesh_voxels(load_mesh(path), res)
        except BadMesh as error:
            raise UserError(f"the mesh cannot be voxelised: {error}") from None
    if not voxels.any():
        raise UserError("the mesh cannot be voxelised: no voxel occupied")
    return voxels
