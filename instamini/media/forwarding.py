"""Uploads in a cluster: the request is streamed through to the instance that owns the uploader.

The idea: an upload's `media` row lives on the uploader's shard, and its job and its
file must be on the instance that owns that shard, whose job loop is the one that will
find them. So an instance that receives an upload for someone it does not own keeps
nothing of it: a middleware on the upload route relays the request as it arrives
(method, headers, body chunk by chunk: edge/proxy.py) to the owner, which receives the
bytes, writes the row and runs the job, and its answer (202, or 413, 415 ...) is relayed
back unchanged. What other modules later check inside their writes on the uploader's
shard (`records.claim_for_post`, `check_avatar`) is then on that same owner.

The relayed request is signed with the cluster secret (cluster/auth.py: the internal
RPC's headers, over an empty body, since the body is streamed). The signature tells the
owner that the relaying instance has already applied the per-address upload limit:
behind the relay every client has that instance's address, and counting them again
would put every relayed upload in one bucket. It grants nothing else; the owner
authenticates the user's own session as for any request.

Cost: nothing on a single instance (one None check). In a cluster, an upload sent to an
instance that does not own the uploader costs one more hop (loopback or LAN) with its
bytes relayed, and the session is looked up on both instances.
"""

from __future__ import annotations

from litestar import Request
from litestar.exceptions import ServiceUnavailableException
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from ..cluster.auth import CALLER, AuthRefused, Signer
from ..edge.origin import Origins
from ..edge.proxy import pass_through

RELAYED_BY = "instamini.relayed_by"  # scope key: the instance that relayed this request, verified once


class UploadForwarder:
    """Relays uploads to the uploader's owner (`app.state.media_forwarder`, None on a single instance)."""

    def __init__(self, node, secret: bytes, *, timeout: float, connect_timeout: float) -> None:
        self.node = node
        self.signer = Signer(secret, node.name) if secret else None  # no secret: relayed unsigned, limited twice
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._owners: dict[str, Origins] = {}  # by URL: one pooled client per instance relayed to
        self.relayed = 0

    async def aclose(self) -> None:
        for origins in self._owners.values():
            await origins.aclose()

    def owner_elsewhere(self, user_id: int) -> str | None:
        """The instance that owns `user_id`'s shard, if it is not this one."""
        owner = self.node.topology.owner_of_id(user_id)
        return None if owner == self.node.topology.local else owner

    def relayed_by(self, request: Request) -> str | None:
        """The instance of this cluster that relayed `request` here, if its signature holds.

        Checked once per request (the nonce may be used once), then read from the scope."""
        if RELAYED_BY not in request.scope:
            request.scope[RELAYED_BY] = self._verify(request)  # type: ignore[literal-required]
        return request.scope[RELAYED_BY]  # type: ignore[literal-required]

    def _verify(self, request: Request) -> str | None:
        verifier = self.node.server.verifier
        if verifier is None or CALLER not in request.headers:
            return None
        try:
            caller = verifier.verify(self.node.name, request.method, request.scope["path"], request.headers, b"")
        except AuthRefused:  # a client's made-up headers: an ordinary request, limits and all
            return None
        return caller if caller in self.node.topology.names else None

    async def relay(self, request: Request, owner: str) -> ASGIResponse:
        """Stream `request` to `owner` and relay its answer."""
        url = self.node.topology.instance(owner).url
        origins = self._owners.get(url)
        if origins is None:
            origins = self._owners[url] = Origins(
                [url], timeout=self.timeout, connect_timeout=self.connect_timeout, trust_env=False
            )
        signed = self.signer.headers(owner, request.method, request.scope["path"], b"") if self.signer else {}
        self.relayed += 1
        return await pass_through(request, origins, extra_headers=list(signed.items()))


def to_owner(app: ASGIApp) -> ASGIApp:
    """Middleware of the upload route: relays the upload when another instance owns the uploader.

    Runs after authentication (so the uploader is known) and before the handler reads a
    byte of the body; an anonymous request goes on to the handler's guard."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        forwarder: UploadForwarder | None = scope["app"].state.get("media_forwarder")
        user = scope.get("user")
        owner = forwarder.owner_elsewhere(user.id) if forwarder is not None and user is not None else None
        if owner is None:
            await app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        if forwarder.relayed_by(request) is not None:  # two maps disagree (a shard moving): never relay in circles
            raise ServiceUnavailableException("the uploader's shard is changing owner; try again in a moment")
        response = await forwarder.relay(request, owner)
        await response(scope, receive, send)

    return middleware


async def counts_against_limit(request: Request) -> bool:
    """The upload rate limit's check: an upload relayed by another instance was counted there."""
    forwarder: UploadForwarder | None = request.app.state.get("media_forwarder")
    return forwarder is None or forwarder.relayed_by(request) is None
