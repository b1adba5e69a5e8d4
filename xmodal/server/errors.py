"""Errors as one JSON line with a 4xx status, and a cap on request bodies.

Our UserErrors are 400, validation errors 422, unknown routes 404, a client that left mid-request 400
(logged at debug level only); anything else is a 500 whose body says only "internal error" (the
traceback goes to the server's log, never to the client).
"""
import json
import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tfrecords_tools.errors import UserError

LOG = logging.getLogger("xmodal.serve")
DRAIN = 8  # a refused body up to this many times the limit is read to its end before the 413


def error(status: int, message: str) -> JSONResponse:
    """{"error": message} with this status; the message kept to one line."""
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def validation_message(exc: RequestValidationError) -> str:
    """The first problem of a request that does not match its model, in words."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))


def add_error_handlers(app: FastAPI) -> None:
    """Turn every error into one JSON line with a fitting status."""
    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, exc.detail)

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        LOG.debug("client left during %s %s", request.method, request.url.path)
        return error(400, "the client disconnected before the request ended")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        LOG.error("internal error on %s %s:\n%s", request.method, request.url.path, traceback.format_exc())
        return error(500, "internal error (see the server's log)")


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before any route reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self.refuse(scope, receive, send)
            return
        messages, size = [], 0
        while True:  # buffer the body (at most `limit` bytes), counting what arrives without a declared length
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self.refuse(scope, receive, send, more=message.get("more_body", False))
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, more: bool = True) -> None:
        """Answer 413 in one JSON line, after reading the rest (`more`) of a body of up to DRAIN times the limit (a
        client still sending when the connection closes sees a reset, not the answer); a larger one is cut off."""
        left = DRAIN * self.limit
        message = {"more_body": more}
        while message.get("more_body") and left > 0:
            message = await receive()
            left -= len(message.get("body", b""))
        body = json.dumps({"error": f"request body over {self.limit:,} bytes: send a smaller file"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
