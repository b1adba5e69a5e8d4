"""What the routes share: the searcher, made once at start-up, and what the server says about itself."""
import dataclasses

from fastapi import Request

from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes.load import MESH_SUFFIXES
from xmodal.search.query_image import BACKGROUND
from xmodal.search.queries import Searcher

MAX_K = 100  # the most results one search returns


@dataclasses.dataclass(frozen=True)
class Service:
    """The state of a running server."""

    searcher: Searcher
    index: str  # the index folder's path
    model_name: str  # the name in TensorFlow Serving's paths, /v1/models/<name>
    max_body: int  # bytes: larger requests are answered 413

    def calibration(self) -> dict | None:
        """How many matched pairs the export's calibration holds and their largest distance, or None."""
        matched = self.searcher.calibration
        if matched is None:
            return None
        return {"split": matched.split, "pairs": len(matched.distances), "max_distance": float(matched.distances[-1])}

    def metadata(self) -> dict:
        """The export, the index and the limits a client needs."""
        catalogue, embedder = self.searcher.catalogue, self.searcher.embedder
        export = catalogue.export
        return {"model": {"name": self.model_name, "path": export["path"], "version": export["version"],
                          "sha256": export["sha256"], "step": export["training"].get("step"),
                          "image_size": embedder.image_size, "voxel_res": embedder.voxel_res,
                          "query_background": BACKGROUND, "calibration": self.calibration()},
                "index": {"path": self.index, "kind": catalogue.kind.name, "parameters": catalogue.kind.describe(),
                          "size": len(catalogue), "dim": int(catalogue.index.d),
                          "categories": {name: len(rows) for name, rows in sorted(catalogue.by_category.items())}},
                "limits": {"max_k": MAX_K, "max_body_bytes": self.max_body, "mesh_formats": list(MESH_SUFFIXES)}}


def service(request: Request) -> Service:
    """The running server's state, as a FastAPI dependency."""
    return request.app.state.service


async def json_object(request: Request) -> dict:
    """The request's JSON body, which must be an object; a UserError otherwise."""
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the body is not valid JSON") from None
    except RecursionError:
        raise UserError("the JSON body is nested too deeply") from None
    if not isinstance(body, dict):
        raise UserError("the body must be a JSON object")
    return body
