"""The HTTP API over real HTTP on 127.0.0.1: search by picture or mesh, thumbnails, metadata, TF Serving's predict,
bad input answered 4xx in one JSON line, and requests in parallel answered as one at a time."""
import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.pictures import broken_crc, png, png_header_only
from tests.xmodal.server.http import multipart, post_json, request, upload
from tfrecords_tools.dataset.read import dataset
from xmodal.serving.calibration import CALIBRATION
from xmodal.serving.embedder import load_embedder
from xmodal.search.folder import open_index


@pytest.fixture(scope="module")
def renders(tiny_data) -> list[tuple[str, bytes]]:
    """(object id, PNG of one of its test renders) of the tiny dataset's test objects."""
    return [(row["object_id"].decode(), png(row["images"][1])) for row in dataset(tiny_data, "test").as_numpy_iterator()]


def timeless(answer: tuple[int, dict]) -> tuple[int, dict]:
    """A search's (status, answer) without the time it took."""
    status, body = answer
    return status, {key: value for key, value in body.items() if key != "took_ms"}


def one_line_error(status: int, answer: dict, expected_status: int, words: str) -> None:
    """The answer is a one-line JSON error with this status that says `words`."""
    assert status == expected_status, answer
    assert list(answer) == ["error"] and "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert words in answer["error"], answer["error"]


def test_health_and_metadata(server, tiny_index, tiny_model):
    status, _, body = request(f"{server.url}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok", "shapes": len(open_index(tiny_index))}
    status, _, body = request(f"{server.url}/metadata")
    meta = json.loads(body)
    assert meta["index"]["kind"] == "exact" and meta["index"]["size"] == len(open_index(tiny_index))
    assert meta["index"]["categories"] == {"car": meta["index"]["size"]}
    assert meta["limits"]["max_body_bytes"] == 2_000_000 and meta["limits"]["max_k"] >= 10
    assert meta["model"]["path"] == str(Path(tiny_model).resolve()) and meta["model"]["image_size"] == 64
    matched = json.loads((Path(tiny_model) / CALIBRATION).read_text())["distances"]
    assert meta["model"]["calibration"] == {"split": "test", "pairs": 12, "max_distance": max(matched)}
    assert meta["model"]["query_background"] == "white"


def test_picture_search_equals_the_index_searched_here(server, renders, tiny_index, tiny_model):
    _, picture = renders[0]
    status, answer = upload(f"{server.url}/search", "car.png", picture, k="4")
    embedding = load_embedder(tiny_model).encoded([picture])  # (1, 128)
    [expected] = open_index(tiny_index).nearest(embedding, 4)
    assert status == 200 and answer["query"] == "image" and [r["rank"] for r in answer["results"]] == [1, 2, 3, 4]
    assert 0 < answer["took_ms"] < 60_000
    assert [r["id"] for r in answer["results"]] == [h.object_id for h in expected]
    np.testing.assert_allclose([r["distance"] for r in answer["results"]], [h.distance for h in expected], atol=1e-5)
    matched = np.array(json.loads((Path(tiny_model) / CALIBRATION).read_text())["distances"])  # numpy's reference
    distances = [r["distance"] for r in answer["results"]]
    assert [r["confidence"] for r in answer["results"]] == [np.mean(matched >= d) for d in distances]
    assert answer["unlike_catalogue"] == (answer["results"][0]["distance"] > matched.max())
    assert (answer["note"] is None) != answer["unlike_catalogue"]
    as_json = post_json(f"{server.url}/search", {"image": base64.b64encode(picture).decode(), "k": 4})
    assert timeless(as_json) == timeless((200, answer))


def test_mesh_search_finds_the_same_shape_first(server, tiny_meshes):
    mesh = next(Path(tiny_meshes).glob("car-*/model.obj"))
    status, answer = upload(f"{server.url}/search", "model.obj", mesh.read_bytes(), k="3")
    assert status == 200 and answer["query"] == "mesh"
    assert answer["results"][0]["id"] == mesh.parent.name and answer["results"][0]["distance"] < 1e-4
    assert {r["confidence"] for r in answer["results"]} == {None}  # calibrated on pictures, not shape -> shape
    assert answer["unlike_catalogue"] is None and answer["note"] is None
    as_json = post_json(f"{server.url}/search", {"mesh": base64.b64encode(mesh.read_bytes()).decode(),
                                                 "format": "obj", "k": 3})
    assert timeless(as_json) == timeless((200, answer))


def test_thumbnails_are_served(server, renders):
    _, answer = upload(f"{server.url}/search", "car.png", renders[0][1], k="2", category="car")
    for result in answer["results"]:
        for url in (result["thumbnail"], result["voxel_thumbnail"]):
            status, headers, body = request(server.url + url)
            assert status == 200 and headers["content-type"] == "image/png"
            assert Image.open(__import__("io").BytesIO(body)).size == (128, 128)
    status, _, body = request(f"{server.url}/thumbnails/99999/render.png")
    one_line_error(status, json.loads(body), 404, "no such thumbnail")


@pytest.mark.parametrize("filename, data, status, words", [
    ("notes.png", b"these are notes, not a picture", 400, "not a readable image"),
    ("crc.png", broken_crc(png(np.full((16, 16, 3), 90, np.uint8))), 400, "not a readable image"),
    ("bomb.png", png_header_only(14000, 14000), 400, "decompression bombs"),
    ("empty.png", b"", 400, "empty"),
    ("broken.obj", b"v 0 0 nonsense\nf 1 2 3\n", 400, "the mesh cannot be voxelised"),
    ("flat.stl", b"solid x\nendsolid x\n", 400, "the mesh cannot be voxelised"),
    ("big.png", b"\0" * 2_500_000, 413, "request body over 2,000,000 bytes"),
])
def test_bad_uploads_are_one_line_4xx(server, filename, data, status, words):
    one_line_error(*upload(f"{server.url}/search", filename, data), status, words)


@pytest.mark.parametrize("body, headers, status, words", [
    (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
    (b"[1, 2]", {"Content-Type": "application/json"}, 400, "must be a JSON object"),
    (b'{"image": "!!!"}', {"Content-Type": "application/json"}, 400, "not valid base64"),
    (b'{"picture": "aGk="}', {"Content-Type": "application/json"}, 422, "picture: Extra inputs are not permitted"),
    (b'{"image": "aGk=", "k": 0}', {"Content-Type": "application/json"}, 422, "k: Input should be greater than"),
    (b'{"mesh": "aGk=", "format": "step"}', {"Content-Type": "application/json"}, 400, "'format' must name"),
    (b'{"image": "aGk=", "mesh": "aGk="}', {"Content-Type": "application/json"}, 400, "exactly one of"),
    (b"hello", {"Content-Type": "text/plain"}, 400, "multipart/form-data"),
    (b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}, 400, "nested too deeply"),
])
def test_bad_json_is_one_line_4xx(server, body, headers, status, words):
    answer_status, _, answer = request(f"{server.url}/search", body, headers)
    one_line_error(answer_status, json.loads(answer), status, words)


def test_one_file_per_search_and_lenient_headers(server, renders):
    parts = [b'--B\r\nContent-Disposition: form-data; name="file"; filename="%s.png"\r\n\r\n%s\r\n' % (name, data)
             for name, data in ((b"a", renders[0][1]), (b"b", renders[1][1]))]
    status, _, answer = request(f"{server.url}/search", b"".join(parts) + b"--B--\r\n",
                                {"Content-Type": "multipart/form-data; boundary=B"})
    one_line_error(status, json.loads(answer), 400, "one file")
    body, headers = multipart({}, "a.png", renders[0][1])
    status, _, answer = request(f"{server.url}/search?k=2&v=cache-buster", body,
                                {"Content-Type": headers["Content-Type"].replace("multipart", "Multipart")})
    assert status == 200 and len(json.loads(answer)["results"]) == 2
    status, _, answer = request(f"{server.url}/healthz", method="HEAD")
    assert status == 200 and answer == b""


def test_unknown_category_and_route(server, renders):
    one_line_error(*upload(f"{server.url}/search", "car.png", renders[0][1], category="chair"), 400,
                   "no shape of category 'chair'")
    status, _, body = request(f"{server.url}/nowhere")
    one_line_error(status, json.loads(body), 404, "Not Found")


def test_parallel_requests_get_their_own_answers(server, renders):
    alone = {name: upload(f"{server.url}/search", "q.png", picture, k="3") for name, picture in renders}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda item: (item[0], upload(f"{server.url}/search", "q.png", item[1], k="3")),
                                 renders * 4))
    assert all(timeless(answer) == timeless(alone[name]) for name, answer in together)


def predict(server, payload: object, path: str = "/v1/models/export:predict") -> tuple[int, dict]:
    """A TF Serving predict call (a str payload is sent as it is)."""
    if isinstance(payload, str):
        status, _, body = request(server.url + path, payload.encode(), {"Content-Type": "application/json"})
        return status, json.loads(body)
    return post_json(server.url + path, payload)


def tiff() -> bytes:
    """A small TIFF file: PIL reads it, TensorFlow's decode_image does not."""
    out = __import__("io").BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out, format="TIFF")
    return out.getvalue()


def test_tf_serving_predict_rows_and_columns(server, renders, tiny_model):
    embedder = load_embedder(tiny_model)
    pictures = [picture for _, picture in renders[:3]]
    instances = [{"b64": base64.b64encode(p).decode()} for p in pictures]
    status, answer = predict(server, {"signature_name": "embed_png", "instances": instances})
    assert status == 200 and list(answer) == ["predictions"]
    np.testing.assert_allclose(answer["predictions"], embedder.encoded(pictures), atol=1e-5)
    status, columns = predict(server, {"signature_name": "embed_png", "inputs": {"images": instances}},
                              "/v1/models/export/versions/1:predict")
    assert status == 200 and np.allclose(columns["outputs"], answer["predictions"], atol=1e-6)


def test_tf_serving_predict_voxels_and_examples(server, tiny_data, tiny_model):
    embedder = load_embedder(tiny_model)
    row = next(dataset(tiny_data, "test").as_numpy_iterator())
    status, answer = predict(server, {"signature_name": "embed_voxels", "instances": [row["voxels"].tolist()]})
    assert status == 200
    np.testing.assert_allclose(answer["predictions"], embedder.voxels(row["voxels"][None]), atol=1e-5)
    example = next(iter(__import__("tensorflow").data.TFRecordDataset(
        sorted(str(p) for p in Path(tiny_data).glob("test-*.tfrecord"))).take(1))).numpy()
    status, answer = predict(server, {"instances": [{"b64": base64.b64encode(example).decode()}]})
    assert status == 200 and set(answer["predictions"][0]) == {"voxel_embedding", "image_embeddings"}
    np.testing.assert_allclose(answer["predictions"][0]["voxel_embedding"], embedder.voxels(row["voxels"][None])[0],
                               atol=1e-5)


@pytest.mark.parametrize("payload, path, status, words", [
    ({"instances": []}, "/v1/models/other:predict", 404, "Servable not found"),
    ({"instances": []}, "/v1/models/export/versions/7:predict", 404, "Specific(export, 7)"),
    ({"instances": []}, "/v1/models/export:classify", 404, "unsupported verb"),
    ({"signature_name": "nope", "instances": []}, "/v1/models/export:predict", 400, "no signature 'nope'"),
    ({"instances": [], "inputs": []}, "/v1/models/export:predict", 400, "either 'instances' or 'inputs'"),
    ({"signature_name": "embed_png", "instances": [{"b64": "!!"}]}, "/v1/models/export:predict", 400, "base64"),
    ({"signature_name": "embed_png", "instances": [{"b64": base64.b64encode(png_header_only(14000, 14000)).decode()}]},
     "/v1/models/export:predict", 400, "decompression bombs"),
    ({"signature_name": "embed_voxels", "instances": [[[[2]]]]}, "/v1/models/export:predict", 400, "takes shape"),
    ({"signature_name": "embed_voxels", "instances": [[1, 2], [3]]}, "/v1/models/export:predict", 400, "shapes"),
    ({"signature_name": "embed_images", "instances": [np.full((64, 64, 3), 300).tolist()]},
     "/v1/models/export:predict", 400, "values must lie in [0, 255]"),
    ({"instances": [{"b64": base64.b64encode(b"not an example").decode()}]}, "/v1/models/export:predict", 400,
     "refused the input: Could not parse example input"),
    ({"signature_name": [1], "instances": []}, "/v1/models/export:predict", 400, "no signature [1]"),
    ({"signature_name": "embed_png", "instances": [{"b64": "aGk="}] * 1025}, "/v1/models/export:predict", 400,
     "at most 1024 per request"),
    ({"signature_name": "embed_png", "instances": [{"b64": base64.b64encode(tiff()).decode()}]},
     "/v1/models/export:predict", 400, "TIFF pictures are not decoded"),
    ("[" * 100_000 + "]" * 100_000, "/v1/models/export:predict", 400, "nested too deeply"),
])
def test_tf_serving_refusals_are_one_line(server, payload, path, status, words):
    one_line_error(*predict(server, payload, path), status, words)


def test_model_status_and_page(server):
    status, _, body = request(f"{server.url}/v1/models/export")
    assert status == 200 and json.loads(body)["model_version_status"][0]["state"] == "AVAILABLE"
    status, headers, body = request(f"{server.url}/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<html" in body.lower()


def test_the_server_logged_no_traceback(server):
    request(f"{server.url}/healthz")
    assert not any("Traceback" in line for line in server.log), "".join(server.log)[-3000:]


def test_a_large_photo_is_searched_at_a_reduced_size(server, renders, tiny_model):
    small = Image.open(__import__("io").BytesIO(renders[0][1])).convert("RGB")
    large = png(np.asarray(small.resize((3000, 3000), Image.Resampling.NEAREST)))
    status, answer = upload(f"{server.url}/search", "large.png", large, k="3")
    reduced = png(np.asarray(small.resize((3000, 3000), Image.Resampling.NEAREST).resize(
        (1024, 1024), Image.Resampling.LANCZOS)))
    status_reduced, expected = upload(f"{server.url}/search", "reduced.png", reduced, k="3")
    assert status == status_reduced == 200 and timeless((status, answer)) == timeless((status_reduced, expected))


def test_an_oversized_body_without_a_length_is_refused_whole(server):
    """Sent in chunks with no Content-Length: counted as it arrives, and answered 413 once it passes the cap."""
    import http.client
    from urllib.parse import urlparse

    target = urlparse(server.url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    connection.request("POST", "/search", body=iter([b"\0" * 1_000_000] * 3), encode_chunked=True,
                       headers={"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"})
    answer = connection.getresponse()
    assert answer.status == 413 and "request body over" in json.loads(answer.read())["error"]


def test_a_picture_that_is_not_square_is_searched_letterboxed(server):
    wide = np.random.default_rng(3).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    boxed = np.full((64, 64, 3), 255, np.uint8)
    boxed[16:48] = wide  # centred on white, never stretched
    stretched = np.asarray(Image.fromarray(wide).resize((64, 64)))
    answers = [timeless(upload(f"{server.url}/search", "q.png", png(p), k="3")) for p in (wide, boxed, stretched)]
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert [r["distance"] for r in answers[0][1]["results"]] != [r["distance"] for r in answers[2][1]["results"]]


def test_a_picture_unlike_the_catalogue_says_so(unlike_server, renders):
    status, answer = upload(f"{unlike_server.url}/search", "car.png", renders[0][1], k="2")
    assert status == 200 and answer["unlike_catalogue"] is True
    assert answer["note"].startswith("the query looks unlike the catalogue: its nearest shape is ")
    assert [r["confidence"] for r in answer["results"]] == [0.0, 0.0]
