"""`xmodal.serve` under load on 127.0.0.1: requests/s and latency of concurrent clients, and malformed requests.

Starts `python -m xmodal.serve --port 0 --max-body-mb 2` over an index (default: the `make serve` index of the demo
cars; built with `--builtin` into a temporary folder when missing), then for each number of
concurrent clients (threads, one keep-alive connection each) sends picture searches for a bounded
time: requests/s, p50/p99 latency, errors. The peer, in the same run: the same searches in one
process, without HTTP (`Searcher.pictures`), so the ratio is what the server adds. Last, clients
send only malformed requests (not a picture, a decompression bomb, a broken mesh, bad JSON, an
oversized body, TF Serving calls that do not fit): counted by status, and there must be no 5xx.
The clients share the 2 cores with the server: figures are for the pair.
"""
import argparse
import base64
import http.client
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.pictures import broken_crc, png, png_header_only  # noqa: E402

LISTENING = "listening on http://"


def multipart(filename: str, data: bytes, k: int = 5) -> tuple[bytes, dict]:
    """A multipart search body of one file, and its headers."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n{k}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n').encode()
    return body + data + f"\r\n--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def queries(index: str, count: int) -> list[bytes]:
    """Pictures to search with: renders of shapes of the index (its thumbnails), every other one as JPEG."""
    from xmodal.search.folder import open_index  # noqa: PLC0415  (TensorFlow only here, not in the clients)

    catalogue = open_index(index)
    pictures = []
    for i, position in enumerate(np.random.default_rng(0).choice(len(catalogue), count, replace=False)):
        picture = catalogue.thumbnail(int(position), "render")
        if i % 2:
            out = io.BytesIO()
            Image.open(io.BytesIO(picture)).save(out, format="JPEG", quality=85)
            picture = out.getvalue()
        pictures.append(picture)
    return pictures


def malformed() -> list[tuple[str, str, bytes, dict]]:
    """(name, path, body, headers) of requests a server must answer 4xx."""
    obj = multipart("broken.obj", b"v 0 0 nonsense\nf 1 2 3\n")
    return [
        ("not a picture", "/search", *multipart("notes.png", b"just some notes")),
        ("broken PNG", "/search", *multipart("crc.png", broken_crc(png(np.full((16, 16, 3), 90, np.uint8))))),
        ("decompression bomb", "/search", *multipart("bomb.png", png_header_only(14000, 14000))),
        ("broken mesh", "/search", *obj),
        ("bad JSON", "/search", b"{not json", {"Content-Type": "application/json"}),
        ("unknown field", "/search", b'{"picture": "aGk="}', {"Content-Type": "application/json"}),
        ("oversized body", "/search", b"\0" * 3_000_000, {"Content-Type": "application/octet-stream"}),
        ("wrong content type", "/search", b"hello", {"Content-Type": "text/plain"}),
        ("TF Serving: both forms", "/v1/models/{name}:predict", b'{"instances": [], "inputs": []}',
         {"Content-Type": "application/json"}),
        ("TF Serving: not an example", "/v1/models/{name}:predict",
         json.dumps({"instances": [{"b64": base64.b64encode(b"junk").decode()}]}).encode(),
         {"Content-Type": "application/json"}),
    ]


def load(url: str, requests: list[tuple[str, bytes, dict]], clients: int, seconds: float) -> dict:
    """Send the requests round-robin from `clients` threads for `seconds`: latencies and statuses."""
    target = urlparse(url)
    latencies, statuses, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        i = offset
        while time.monotonic() < stop:
            path, body, headers = requests[i % len(requests)]
            start = time.perf_counter()
            try:
                connection.request("POST", path, body, headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
                if answer.getheader("connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                status = "connection error"
                connection.close()
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
            i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)
    return {"requests": len(ordered), "per_second": len(ordered) / elapsed, "statuses": statuses,
            "p50_ms": 1e3 * ordered[len(ordered) // 2], "p99_ms": 1e3 * ordered[min(len(ordered) - 1,
                                                                                     int(0.99 * len(ordered)))]}


def started(index: str) -> tuple[subprocess.Popen, str, float]:
    """The server process, its URL and how long it took to listen."""
    began = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "xmodal.serve", "--index", index, "--port", "0", "--max-body-mb",
                                "2", "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if LISTENING in line:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, "http://" + line.split(LISTENING)[1].split()[0], time.monotonic() - began
    raise SystemExit(f"the server did not start (exit {process.wait()})")


def in_process_ms(index: str, pictures: list[bytes], repeats: int) -> float:
    """Median ms of one picture search without HTTP (the peer)."""
    from xmodal.search.queries import open_searcher  # noqa: PLC0415  (TensorFlow only here, not in the clients)

    searcher = open_searcher(index)
    searcher.pictures(pictures[:1], 5)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        searcher.pictures([pictures[i % len(pictures)]], 5)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def demo_index(args: argparse.Namespace, scratch: str) -> str:
    """The index to serve: --index, or the `make serve` index, or one built now from the built-in cars."""
    for candidate in (args.index, "saved_models/small-hd-index"):
        if candidate and (Path(candidate) / "index.json").is_file():
            return candidate
    out = f"{scratch}/index"
    subprocess.run([sys.executable, "-m", "xmodal.index", "build", "--model", args.model, "--builtin", "--out", out],
                   check=True)
    return out


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="", help="index folder (default: the `make serve` index, or built now)")
    parser.add_argument("--model", default="saved_models/small-hd", help="export for an index built now")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16], help="concurrent clients per round")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = demo_index(args, scratch)
        pictures = queries(index, 32)
        peer = in_process_ms(index, pictures, 200)
        process, url, start_seconds = started(index)
        try:
            print(f"server over {index}: listening after {start_seconds:.1f} s; in-process search (the peer): "
                  f"{peer:.2f} ms per query (median)")
            searches = [("/search", *multipart(f"q.{'jpg' if i % 2 else 'png'}", p)) for i, p in enumerate(pictures)]
            for clients in args.clients:
                figures = load(url, searches, clients, args.seconds)
                errors = sum(n for status, n in figures["statuses"].items() if status != 200)
                print(f"{clients:>3} clients: {figures['per_second']:7.1f} requests/s, p50 {figures['p50_ms']:6.2f} ms "
                      f"(x{figures['p50_ms'] / peer:.2f} the in-process search), p99 {figures['p99_ms']:6.2f} ms, "
                      f"{figures['requests']} requests, {errors} errors")
            meta = json.loads(urlopen_text(url + "/metadata"))
            bad = [(path.replace("{name}", meta["model"]["name"]), body, headers)
                   for _, path, body, headers in malformed()]
            figures = load(url, bad, 4, args.seconds / 2)
            server_errors = sum(n for status, n in figures["statuses"].items() if status == "connection error" or
                                status >= 500)
            print(f"malformed requests ({len(bad)} kinds, 4 clients): {figures['requests']} sent, statuses "
                  f"{dict(sorted(figures['statuses'].items(), key=str))}, {server_errors} 5xx or dropped")
        finally:
            process.terminate()
            process.wait(30)


def urlopen_text(url: str) -> str:
    """The body of a GET."""
    from urllib.request import urlopen  # noqa: PLC0415

    with urlopen(url, timeout=60) as answer:
        return answer.read().decode()


if __name__ == "__main__":
    main()
