"""The errors that services raise, and how they become HTTP responses.

Services know nothing of HTTP; they raise one of these, and one exception
handler turns it into Litestar's error shape `{"status_code": N, "detail": "..."}`.

    InstaminiError            base; 400
    ├── InvalidInput          400  the request is well-formed JSON but says something impossible
    ├── NotAuthenticated      401  no token, or a bad, expired or revoked one
    ├── Forbidden             403  you are who you say, but may not do this
    ├── NotFound              404  missing, or hidden from you (private or blocked): indistinguishable
    ├── Conflict              409  the state does not allow it (taken name, already following)
    ├── TooLarge              413  the upload is over its size cap
    ├── UnsupportedMedia      415  the upload is not a kind of file we accept
    ├── RateLimited           429  too many attempts; `retry_after` seconds
    ├── Unavailable           503  in a cluster, the instance that owns the data does not answer:
    │   │                          nothing was done; retry after `retry_after` seconds
    │   └── ShardMoving       503  the shard is being moved to another instance (admin move-shard):
    │                              the write was not made; retry after `retry_after` seconds
    └── Overloaded            503  too much of one costly kind of work is already waiting (password
                                   hashes): refused at once, nothing done; retry after `retry_after`

Litestar's own ValidationException (wrong types, missing or overlong fields) keeps
its shape but names the fields in `detail`; a RecursionError while decoding a
hostile, deeply nested body is a 400 too.

Each route lists the errors it may answer in Litestar's `raises=[...]`, which puts them
in the OpenAPI document; `document_errors` adds the ones every route of a kind shares.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException


class InstaminiError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(InstaminiError):
    status_code = 400


class NotAuthenticated(InstaminiError):
    status_code = 401


class Forbidden(InstaminiError):
    status_code = 403


class NotFound(InstaminiError):
    status_code = 404


class Conflict(InstaminiError):
    status_code = 409


class TooLarge(InstaminiError):
    status_code = 413


class UnsupportedMedia(InstaminiError):
    status_code = 415


class RateLimited(InstaminiError):
    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(InstaminiError):
    """The 503 of a cluster: documented on every route of an instance that has peers
    (cluster/plugin.py); the RPC's own RpcUnavailable becomes this answer (unavailable_response)."""

    status_code = 503

    # One argument with a default: a forwarded call raises it again from its detail alone.
    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ShardMoving(Unavailable):
    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail, retry_after)


class Overloaded(InstaminiError):
    status_code = 503

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def error_response(_: Request, error: InstaminiError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, (RateLimited, Unavailable, Overloaded)) else None
    if isinstance(error, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return Response({"status_code": error.status_code, "detail": error.detail}, status_code=error.status_code, headers=headers)


def validation_response(_: Request, error: ValidationException) -> Response:
    """Litestar's 400 for bad input, with what is wrong in `detail` itself, not only in `extra`."""
    problems = [
        f"{item.get('key')}: {item.get('message')}" if item.get("key") else str(item.get("message"))
        for item in (error.extra if isinstance(error.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(problems) or error.detail
    body = {"status_code": 400, "detail": detail}
    if error.extra:
        body["extra"] = error.extra
    return Response(body, status_code=400)


def unavailable_response(request: Request, error: Exception) -> Response:
    """Another instance of the cluster did not answer (cluster/errors.py's RpcUnavailable):
    the request could not be done here, and may be tried again: Unavailable's 503, not a 500."""
    return error_response(request, Unavailable(f"part of this service is unavailable for a moment ({error}); try again"))


def too_deep_response(_: Request, __: RecursionError) -> Response:
    # A body nested thousands of levels deep exhausts the decoder's recursion: bad input, not a crash.
    return Response({"status_code": 400, "detail": "JSON body is nested too deeply"}, status_code=400)


def document_errors(handler: Any, *errors: type[Exception]) -> None:
    """Add `errors` to a route handler's `raises` (its OpenAPI responses), at most one per status code.

    Litestar documents the classes that share a status code as a `oneOf` of identical error
    shapes; an error body matches all of them, which a JSON Schema `oneOf` forbids, so a
    client validating answers against the document would reject a correct 403.
    """
    raises = list(handler.raises or ())
    for error in errors:
        if all(getattr(known, "status_code", None) != error.status_code for known in raises):
            raises.append(error)
    handler.raises = raises
