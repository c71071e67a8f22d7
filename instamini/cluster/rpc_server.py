"""The serving side of the internal RPC: `POST /internal/rpc`.

Every request is checked before anything runs, in this order: RPC is on here (a
secret is configured; with none, every call is refused with 403, which is the
single-instance default), the signature holds (auth.py; 401 with the reason), the
caller is an instance of the map (403), and the body is a well-formed msgpack batch
(400). Only then do the calls run, through the registry, and the answer is a msgpack
`RpcResponse` with one result per call, in order, always with status 200: a failed
procedure is a typed result, not an HTTP error, so a batch with one bad call still
returns the others.

The route skips the session middleware (it has its own authentication) and stays out
of the public OpenAPI document; it is listed in docs/api.md.

Cost: one HMAC, one envelope decode and one encode per request on top of the calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import msgspec
from litestar import Request, Response, post

from .auth import AuthRefused, Verifier
from .registry import RpcRegistry
from .schemas import MEDIA_TYPE, RPC_PATH, RpcRequest, RpcResponse
from .topology import Topology

_JSON = "application/json"


def _error(status_code: int, detail: str) -> tuple[int, bytes, str]:
    return status_code, msgspec.json.encode({"status_code": status_code, "detail": detail}), _JSON


class RpcServer:
    """Authenticates and runs one HTTP request's batch; knows nothing of Litestar."""

    def __init__(self, topology: Topology, registry: RpcRegistry, verifier: Verifier | None) -> None:
        self.topology, self.registry, self.verifier = topology, registry, verifier
        self._decoder = msgspec.msgpack.Decoder(RpcRequest)
        self._encoder = msgspec.msgpack.Encoder()
        # why a request was turned away ("off", "unauthenticated", "unknown_caller", "bad_body"), for /metrics
        self.refused: Counter[str] = Counter()

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes, str]:
        """(status, body, media type) for one request."""
        if self.verifier is None:
            self.refused["off"] += 1
            return _error(403, "internal RPC is off on this instance: no [cluster] secret is configured")
        try:
            caller = self.verifier.verify(self.topology.local, method, path, headers, body)
        except AuthRefused as refusal:
            self.refused["unauthenticated"] += 1
            return _error(refusal.status_code, refusal.detail)
        if caller not in self.topology.names:
            self.refused["unknown_caller"] += 1
            return _error(403, f"{caller!r} is not an instance of this cluster's map")
        try:
            request = self._decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            self.refused["bad_body"] += 1
            return _error(400, f"the body is not a msgpack RPC batch: {error}")
        results = await self.registry.run(request.calls)
        return 200, self._encoder.encode(RpcResponse(results)), MEDIA_TYPE


@post(RPC_PATH, include_in_schema=False, opt={"exclude_from_auth": True}, status_code=200)
async def rpc_route(request: Request) -> Response:
    server: RpcServer = request.app.state.cluster.server
    status, content, media_type = await server.handle(
        request.method, request.scope["path"], request.headers, await request.body()
    )
    return Response(content, status_code=status, media_type=media_type)
