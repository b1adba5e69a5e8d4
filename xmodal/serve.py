"""`python -m xmodal.serve`: search an index over HTTP: a JSON API, TensorFlow Serving's predict API and a web page.

    POST /search                       a picture or a mesh -> the k nearest shapes (multipart or JSON); a picture
                                       is letterboxed to a square on white (never stretched), each result has a
                                       confidence, and a note says when the query looks unlike the catalogue
    GET  /thumbnails/<position>/render.png, /thumbnails/<position>/voxels.png
    GET  /healthz, GET /metadata       liveness; export version, index kind and size, categories
    POST /v1/models/<name>:predict     TensorFlow Serving's REST format over the export's signatures
    GET  /                             the page: drop a photo or a mesh, see the nearest shapes
    GET  /docs                         the API, described by FastAPI (OpenAPI)
"""
import argparse
import dataclasses
import logging
import socket
from pathlib import Path
from typing import Callable

from tfrecords_tools.errors import UserError, add_verbose_flag, run_cli
from tfrecords_tools.flags import positive_int
from xmodal.serving.versions import MODEL_HELP

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """One server."""

    index: str  # index folder made by `python -m xmodal.index build`
    model: str = ""  # the index's export, checked; empty: the one the index records
    host: str = "127.0.0.1"  # loopback only unless asked
    port: int = 8080  # 0: any free port (printed)
    model_name: str = ""  # the name in /v1/models/<name>; empty: the export base's folder name
    max_body_mb: float = 32.0  # larger requests are refused with 413
    log_level: str = "info"


def reserved(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, held while the server loads so that a second server fails at once; a UserError
    when the address is taken or not one of this machine's."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as error:
        probe.close()
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return probe


def announcing_server(config: object, announce: Callable[[str], None]) -> object:
    """A uvicorn server that calls `announce(url)` once it listens (the port is known then, even when 0 was asked)."""
    import uvicorn  # noqa: PLC0415  (slow to import: only once the flags are checked)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                host, port = self.servers[0].sockets[0].getsockname()[:2]
                announce(f"http://{f'[{host}]' if ':' in host else host}:{port}")

    return Server(config)


def serve(cfg: ServeConfig) -> None:
    """Load the index and its export, then serve until interrupted."""
    reservation = reserved(cfg.host, cfg.port)  # before the slow loading: a taken port fails at once
    import uvicorn  # noqa: PLC0415

    from xmodal.search.queries import open_searcher  # noqa: PLC0415
    from xmodal.server.app import create_app  # noqa: PLC0415
    from xmodal.server.service import Service  # noqa: PLC0415

    searcher = open_searcher(cfg.index, cfg.model)
    export = searcher.catalogue.export
    name = cfg.model_name or Path(export["path"]).parent.name
    app = create_app(Service(searcher, str(Path(cfg.index).resolve()), name, int(cfg.max_body_mb * 1e6)))
    print(f"xmodal.serve: {len(searcher.catalogue)} shapes ({searcher.catalogue.kind.describe()}) of {cfg.index}, "
          f"export {export['path']} as model {name!r}", flush=True)
    if cfg.host not in LOOPBACK:
        print(f"warning: listening on {cfg.host}: reachable from other machines, with no authentication", flush=True)

    def announce(url: str) -> None:
        print(f"listening on {url} (page at {url}/, API at {url}/docs); Ctrl-C stops", flush=True)

    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level, timeout_graceful_shutdown=5)
    reservation.close()  # uvicorn binds the address itself (its own sockets get TCP_NODELAY)
    announcing_server(config, announce).run()


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="index folder made by `python -m xmodal.index build`")
    parser.add_argument("--model", default="", help=MODEL_HELP + "; default: the export the index records "
                                                                 "(another one is refused)")
    parser.add_argument("--host", default=ServeConfig.host, help="address to listen on (default 127.0.0.1: this "
                                                                 "machine only; 0.0.0.0 for every network)")
    parser.add_argument("--port", type=int, default=ServeConfig.port, help="port (default 8080; 0: any free one)")
    parser.add_argument("--model-name", default="", help="the model's name in /v1/models/<name>:predict "
                                                         "(default: the export folder's name)")
    parser.add_argument("--max-body-mb", type=positive_int, default=int(ServeConfig.max_body_mb),
                        help="largest request body in megabytes (default 32); larger ones get 413")
    parser.add_argument("--log-level", default=ServeConfig.log_level,
                        choices=("critical", "error", "warning", "info", "debug"),
                        help="uvicorn's log level (default info: one line per request)")
    add_verbose_flag(parser)
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: must be 0-65535")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")  # uvicorn sets its own
    serve(ServeConfig(args.index, args.model, args.host, args.port, args.model_name, args.max_body_mb, args.log_level))


if __name__ == "__main__":
    run_cli(main)
