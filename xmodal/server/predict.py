"""TensorFlow Serving's REST predict API over the export's signatures, so TF Serving clients work unchanged.

`POST /v1/models/<name>[/versions/<v>]:predict` with {"signature_name": ..., "instances": [...]} (row
format: answered {"predictions": [...]}) or {"inputs": ...} (columnar: answered {"outputs": ...});
binary values as {"b64": "..."}; errors {"error": "..."}. `GET /v1/models/<name>` gives the model's status.
"""
import base64
import binascii
import io
from typing import Annotated, Any

import numpy as np
import tensorflow as tf
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from PIL import Image

from tfrecords_tools.errors import UserError
from xmodal.search.query_image import read_picture
from xmodal.server.errors import error
from xmodal.server.service import Service, json_object, service

router = APIRouter()
DEFAULT_SIGNATURE = "serving_default"
PICTURE_SIGNATURES = ("embed_png",)  # whose string inputs are picture files, checked with PIL before TensorFlow
DECODABLE = ("JPEG", "PNG", "GIF", "BMP", "WEBP")  # the PIL formats tf.io.decode_image reads
MAX_INSTANCES = 1024  # per request: a batch of small pictures costs memory by its count, not its bytes
CHUNK = 32  # instances run through a signature at a time


def value(item: Any, spec: tf.TensorSpec) -> Any:
    """One instance's value for an input of this spec: {"b64": ...} to bytes, text to bytes, numbers as they are."""
    if isinstance(item, dict) and set(item) == {"b64"}:
        try:
            return base64.b64decode(item["b64"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise UserError("a 'b64' value is not valid base64") from None
    if spec.dtype == tf.string:
        if not isinstance(item, str):
            raise UserError(f"input {spec.name!r} takes strings or {{'b64': ...}}, not {type(item).__name__}")
        return item.encode()
    return item


def batch(values: list, spec: tf.TensorSpec, name: str) -> tf.Tensor:
    """The values of a batch as one tensor of the input's dtype and rank; a UserError when they do not fit."""
    if spec.dtype == tf.string:
        return tf.constant(values, tf.string)
    try:
        array = np.asarray(values)
    except ValueError:
        raise UserError(f"input {name!r}: the instances have different shapes") from None
    if array.dtype.kind not in "iub" and not (array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0)):
        raise UserError(f"input {name!r} takes integers of {spec.dtype.name}, not {array.dtype}")
    if array.size and (array.min() < spec.dtype.min or array.max() > spec.dtype.max):
        raise UserError(f"input {name!r}: values must lie in [{spec.dtype.min}, {spec.dtype.max}] ({spec.dtype.name})")
    if not spec.shape.is_compatible_with(array.shape):
        raise UserError(f"input {name!r} takes shape {spec.shape.as_list()} (None: any), not {list(array.shape)}")
    return tf.constant(array.astype(spec.dtype.as_numpy_dtype))


def inputs_of(body: dict, signature: Any) -> tuple[str, tf.TensorSpec, list, bool]:
    """(input name, its spec, the values of the batch, whether the body is in row format) of a predict body."""
    specs = signature.structured_input_signature[1]
    [(name, spec)] = specs.items()  # every signature of an xmodal export takes one input
    if ("instances" in body) == ("inputs" in body):
        raise UserError("the body must have either 'instances' or 'inputs', not both and not neither")
    rows = "instances" in body
    items = body["instances"] if rows else body["inputs"]
    if isinstance(items, dict):
        if set(items) != {name}:
            raise UserError(f"this signature's one input is {name!r}")
        items = items[name]
    if not isinstance(items, list):
        raise UserError("'instances' (or 'inputs') must be a list")
    if len(items) > MAX_INSTANCES:
        raise UserError(f"{len(items)} instances: at most {MAX_INSTANCES} per request")
    items = [i[name] if isinstance(i, dict) and set(i) == {name} else i for i in items]
    return name, spec, [value(i, spec) for i in items], rows


def tensorflow_reason(failure: Exception) -> str:
    """The line of a TensorFlow error that says what was wrong (not its graph context)."""
    context = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[")
    lines = [line.strip() for line in str(getattr(failure, "message", failure)).splitlines()]
    return next((line for line in lines if line and not line.startswith(context)), lines[0] if lines else "")


def checked_pictures(values: list[bytes]) -> None:
    """A UserError for the first value that is not a picture TensorFlow decodes (or is a decompression bomb)."""
    for i, picture in enumerate(values):
        read_picture(picture, f"instance {i}")  # broken files and decompression bombs stop here
        with Image.open(io.BytesIO(picture)) as image:
            if image.format not in DECODABLE:
                raise UserError(f"instance {i}: {image.format} pictures are not decoded by the signature; send "
                                f"one of {', '.join(DECODABLE)}")


def outputs_of(signature: Any, input_name: str, spec: tf.TensorSpec, values: list) -> dict[str, np.ndarray]:
    """The signature's outputs for all values, run CHUNK instances at a time."""
    parts = []
    for start in range(0, max(len(values), 1), CHUNK):
        try:
            out = signature(**{input_name: batch(values[start:start + CHUNK], spec, input_name)})
        except (tf.errors.InvalidArgumentError, ValueError) as failure:
            raise UserError(f"the signature refused the input: {tensorflow_reason(failure)}") from None
        parts.append({k: v.numpy() for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def predicted(state: Service, body: dict) -> dict:
    """The body's answer: the signature run on its inputs."""
    signatures = state.searcher.embedder.model.signatures
    name = body.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(name, str) or name not in signatures:
        raise UserError(f"no signature {name!r}; the export has {', '.join(sorted(signatures))}")
    input_name, spec, values, rows = inputs_of(body, signatures[name])
    if name in PICTURE_SIGNATURES:
        checked_pictures(values)
    outputs = outputs_of(signatures[name], input_name, spec, values)
    if rows:
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values())).tolist()}
        return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(len(values))]}
    return {"outputs": next(iter(outputs.values())).tolist() if len(outputs) == 1
            else {k: v.tolist() for k, v in outputs.items()}}


def checked_target(state: Service, name: str, version: str | None, verb: str) -> JSONResponse | None:
    """A 404 when the model name, version or verb is not this server's, else None."""
    if verb != "predict":
        return error(404, f"unsupported verb {verb!r}: this server answers :predict")
    if name != state.model_name:
        return error(404, f"Servable not found for request: Latest({name}); this server has {state.model_name!r}")
    if version is not None and version != str(state.searcher.catalogue.export["version"]):
        return error(404, f"Servable not found for request: Specific({name}, {version}); this server has version "
                          f"{state.searcher.catalogue.export['version']}")
    return None


async def answer(request: Request, state: Service, name: str, version: str | None, verb: str) -> JSONResponse:
    """The predict response, or a one-line error."""
    refused = checked_target(state, name, version, verb)
    if refused:
        return refused
    return JSONResponse(await run_in_threadpool(predicted, state, await json_object(request)))


@router.post("/v1/models/{target}", summary="TensorFlow Serving's predict: /v1/models/<name>:predict")
async def predict(target: str, request: Request, state: Annotated[Service, Depends(service)]) -> JSONResponse:
    """Run a signature of the export (default `serving_default`) on the instances."""
    name, _, verb = target.rpartition(":")
    return await answer(request, state, name, None, verb)


@router.post("/v1/models/{name}/versions/{target}", summary="TensorFlow Serving's predict of one version")
async def predict_version(name: str, target: str, request: Request,
                          state: Annotated[Service, Depends(service)]) -> JSONResponse:
    """The same, naming the version (the export's)."""
    version, _, verb = target.rpartition(":")
    return await answer(request, state, name, version, verb)


@router.get("/v1/models/{name}", summary="TensorFlow Serving's model status")
def status(name: str, state: Annotated[Service, Depends(service)]) -> JSONResponse:
    """The one version this server holds, AVAILABLE."""
    if name != state.model_name:
        return error(404, f"Could not find any versions of model {name}")
    return JSONResponse({"model_version_status": [{"version": str(state.searcher.catalogue.export["version"]),
                                                   "state": "AVAILABLE",
                                                   "status": {"error_code": "OK", "error_message": ""}}]})
