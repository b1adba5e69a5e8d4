"""Routes of the search API: POST /search, thumbnails, GET /healthz, GET /metadata."""
import base64
import binascii
import time
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes.load import MESH_SUFFIXES
from xmodal.search.catalogue import THUMBNAILS, Hit
from xmodal.server.service import MAX_K, Service, json_object, service

router = APIRouter()
QUERY_FIELDS = ("k", "category")  # the search's parameters that may come in the URL


class SearchRequest(BaseModel):
    """A search as JSON: a base64 picture, or a base64 mesh file and its format."""

    model_config = ConfigDict(extra="forbid")
    image: str | None = Field(None, description="a picture file (PNG, JPEG, ...) in base64")
    mesh: str | None = Field(None, description="a mesh file (OBJ, OFF, PLY, STL, GLB) in base64")
    format: str | None = Field(None, description="the mesh's format: obj, off, ply, stl or glb")
    k: int = Field(5, ge=1, le=MAX_K, description="how many shapes to return")
    category: str | None = Field(None, description="return only shapes of this category")


class Result(BaseModel):
    """One retrieved shape."""

    rank: int
    id: str
    category: str
    distance: float = Field(description="Euclidean distance between the embeddings (smaller is nearer)")
    confidence: float | None = Field(description="of a picture query: the share of the export's matched pairs (a "
                                     "test picture and its own shape) at least this far apart, from 0 to 1; null "
                                     "for a mesh query or an export without calibration")
    thumbnail: str = Field(description="URL of a render of the shape")
    voxel_thumbnail: str = Field(description="URL of a picture of its voxel grid")


class SearchResponse(BaseModel):
    """The k nearest shapes, nearest first."""

    query: str = Field(description="image or mesh")
    k: int
    category: str | None
    took_ms: float = Field(description="time the server spent: decoding, embedding and searching")
    unlike_catalogue: bool | None = Field(description="of a picture query: whether its nearest shape is farther "
                                          "than every matched pair of the export's calibration; null for a mesh "
                                          "query or an export without calibration")
    note: str | None = Field(description="what the results say beyond their distances, in one line: the query "
                                         "looks unlike the catalogue, or the export has no calibration")
    results: list[Result]


def results(hits: list[Hit], tag: str) -> list[Result]:
    """Hits as response rows with their thumbnail URLs (which name the index's state, so caches never mix two)."""
    return [Result(rank=rank, id=hit.object_id, category=hit.category, distance=hit.distance,
                   confidence=hit.confidence, thumbnail=f"/thumbnails/{hit.position}/render.png?v={tag}",
                   voxel_thumbnail=f"/thumbnails/{hit.position}/voxels.png?v={tag}") for rank, hit in enumerate(hits, 1)]


def decoded_base64(text: str, what: str) -> bytes:
    """Bytes of a base64 field (a data: URL prefix allowed); a UserError when it is not base64."""
    try:
        return base64.b64decode(text.split(",", 1)[1] if text.startswith("data:") else text, validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"{what} is not valid base64") from None


def query_fields(request: Request) -> dict:
    """`k` and `category` given in the URL (other URL parameters, a cache-buster say, are not ours to refuse)."""
    return {key: value for key, value in request.query_params.items() if key in QUERY_FIELDS}


async def parsed(request: Request) -> tuple[SearchRequest, bytes, str]:
    """(the search's parameters, the uploaded file's bytes, its suffix: '' for a picture) of a multipart or JSON body."""
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        uploads = form.getlist("file")
        if len(uploads) != 1 or not isinstance(uploads[0], UploadFile):
            raise UserError("a multipart search needs one file, in a field named 'file'")
        fields = {key: value for key, value in form.items() if key != "file" and value != ""}
        suffix = PurePath(uploads[0].filename or "").suffix.lower()
        params = SearchRequest.model_validate({**query_fields(request), **fields})
        return params, await uploads[0].read(), suffix if suffix in MESH_SUFFIXES else ""
    if kind.startswith("application/json"):
        params = SearchRequest.model_validate({**query_fields(request), **await json_object(request)})
        if (params.image is None) == (params.mesh is None):
            raise UserError("give exactly one of 'image' and 'mesh'")
        if params.mesh is not None:
            suffix = "." + (params.format or "").lower().lstrip(".")
            if suffix not in MESH_SUFFIXES:
                raise UserError(f"'format' must name the mesh's format: one of {', '.join(MESH_SUFFIXES)}")
            return params, decoded_base64(params.mesh, "'mesh'"), suffix
        return params, decoded_base64(params.image, "'image'"), ""
    raise UserError("send the query as multipart/form-data (a field 'file') or as JSON ({'image': base64})")


@router.post("/search", response_model=SearchResponse, summary="The shapes nearest to a picture or a mesh")
async def search(request: Request, state: Annotated[Service, Depends(service)]) -> SearchResponse:
    """A picture (any format PIL reads; letterboxed to a square on white, never stretched) is embedded by the image
    encoder, each result with its confidence; a mesh is voxelised and embedded by the voxel encoder (shape -> shape). Multipart: a field `file` (a mesh by its suffix), optional fields `k` and
    `category`. JSON: {"image": base64} or {"mesh": base64, "format": "obj"}, optional "k" and "category"."""
    try:
        params, data, suffix = await parsed(request)
    except ValidationError as error:  # of the form's or the JSON's fields: answered 422 like FastAPI's own
        raise RequestValidationError(error.errors()) from None
    if not data:
        raise UserError("the query file is empty")
    searcher, began = state.searcher, time.perf_counter()
    if suffix:
        hits = await run_in_threadpool(searcher.mesh, data, suffix, params.k, params.category)
        unlike, note = None, None
    else:
        hits = (await run_in_threadpool(searcher.pictures, [data], params.k, params.category))[0]
        unlike, note = searcher.unlike(hits), searcher.note(hits)
    return SearchResponse(query="mesh" if suffix else "image", k=params.k, category=params.category,
                          took_ms=1e3 * (time.perf_counter() - began), unlike_catalogue=unlike, note=note,
                          results=results(hits, searcher.catalogue.tag))


@router.api_route("/thumbnails/{position}/{name}", methods=["GET", "HEAD"],
                  summary="A thumbnail of a shape of the index")
def thumbnail(position: int, name: str, state: Annotated[Service, Depends(service)]) -> Response:
    """`render.png` or `voxels.png` of the shape at this position of the index."""
    which = name.removesuffix(".png")
    if which not in THUMBNAILS or not name.endswith(".png") or not 0 <= position < len(state.searcher.catalogue):
        return Response(b'{"error": "no such thumbnail"}', 404, media_type="application/json")
    return Response(state.searcher.catalogue.thumbnail(position, which), media_type="image/png",
                    headers={"cache-control": "public, max-age=3600"})


@router.api_route("/healthz", methods=["GET", "HEAD"], summary="Whether the server is up")
def healthz(state: Annotated[Service, Depends(service)]) -> dict:
    """{"status": "ok", "shapes": N}."""
    return {"status": "ok", "shapes": len(state.searcher.catalogue)}


@router.api_route("/metadata", methods=["GET", "HEAD"], summary="The export, the index and the limits")
def metadata(state: Annotated[Service, Depends(service)]) -> dict:
    """Export version and checksum, index kind, size and categories, max k and mesh formats."""
    return state.metadata()
