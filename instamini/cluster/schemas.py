"""What goes over the wire of the internal RPC: msgpack, decoded by typed decoders.

A request is always a batch (a single call is a batch of one), so one HTTP request can
carry every call a page needs from one instance. Each call's arguments and each result
travel as `msgspec.Raw` (msgpack bytes kept as they are): the envelope is decoded once
and each argument is decoded later with the type its procedure declared, so one call
with bad arguments fails alone instead of failing the batch.

    request   {"calls": [[procedure, args], ...]}
    response  {"results": [["ok", value] | ["err", code, detail, data], ...]}   in the calls' order

Errors before any call runs (authentication, a malformed body) are HTTP 4xx with the
app's usual JSON error `{"status_code", "detail"}`, so that curl shows them too.

Cost: msgpack encoding is a few hundred nanoseconds per small value.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

RPC_PATH = "/internal/rpc"
MEDIA_TYPE = "application/msgpack"
MAX_CALLS = 1000  # per request: a bigger fan-out is split by the caller, not buffered here


class WireCall(msgspec.Struct, array_like=True):
    procedure: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    args: msgspec.Raw


class RpcRequest(msgspec.Struct, forbid_unknown_fields=True):
    calls: Annotated[list[WireCall], msgspec.Meta(min_length=1, max_length=MAX_CALLS)]


class Ok(msgspec.Struct, tag="ok", array_like=True):
    value: msgspec.Raw


class Err(msgspec.Struct, tag="err", array_like=True):
    code: str
    detail: str
    data: Any = None


class RpcResponse(msgspec.Struct):
    results: list[Ok | Err]


NIL = msgspec.Raw(msgspec.msgpack.encode(None))
