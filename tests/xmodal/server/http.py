"""Plain HTTP for the server tests: requests with the standard library, multipart bodies by hand."""
import json
import urllib.error
import urllib.request
import uuid


def request(url: str, body: bytes | None = None, headers: dict | None = None,
            method: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; HTTP errors are answers too."""
    call = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(call, timeout=120) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, dict]:
    """A multipart/form-data body with the fields and one file field `file`, and its headers."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(url: str, filename: str, data: bytes, **fields: str) -> tuple[int, dict]:
    """(status, JSON answer) of a multipart POST of one file."""
    body, headers = multipart(fields, filename, data)
    status, _, answer = request(url, body, headers)
    return status, json.loads(answer)


def post_json(url: str, payload: object) -> tuple[int, dict]:
    """(status, JSON answer) of a JSON POST."""
    status, _, answer = request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    return status, json.loads(answer)
