"""The FastAPI application: search and TF Serving routes, the page at `/`, one-line JSON errors, a body cap."""
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from xmodal.server import predict, search
from xmodal.server.errors import BodyLimit, add_error_handlers
from xmodal.server.service import Service

WEB = resources.files("xmodal") / "web"  # the page's static files, shipped with the package


def create_app(state: Service) -> FastAPI:
    """The application serving `state`; request bodies over its `max_body` bytes are refused with 413."""
    app = FastAPI(title="xmodal", summary="Search a catalogue of 3D shapes with a picture or a mesh",
                  version=str(state.searcher.catalogue.export["version"]))
    app.state.service = state
    app.include_router(search.router)
    app.include_router(predict.router)
    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(WEB / "index.html"))

    add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=state.max_body)
    return app
