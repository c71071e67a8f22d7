"""The calling side of the internal RPC: signed msgpack batches over pooled HTTP.

The idea (the fan-out of a sharded read, as a feed page hydrated from several
servers): a caller groups what it needs by the instance that owns it and sends each
instance ONE request with every call for it, to all instances at once, so a page that
spans three instances costs three requests in parallel, not one per item:

    results = await client.fan_out([(topology.owner_of_id(i), RpcCall("posts.load", [i])) for i in ids])

`call` is one procedure, `batch` many on one instance, `fan_out` many on many, with
results always in the order of the calls. Calls addressed to this instance itself run
in-process through the local registry (same encoding, no HTTP, no signature), so code
written with fan_out costs no network in a single-instance install.

Failures (errors.py has the tree): a procedure's own error is `RpcCallFailed` with its
code; a 4xx is `RpcRefused`; no answer is `RpcUnavailable`. `batch` and `fan_out` raise
the first error in call order, or with `return_errors=True` put each error in its
call's place, as asyncio.gather(return_exceptions=True) does.

Retries and idempotency. An attempt that could not even open a connection is retried
for every call: nothing was sent. A timeout, a broken connection or a 5xx is retried
ONLY for calls marked `idempotent=True`: the first attempt may have run, and running a
non-idempotent procedure twice (a like, a counter increment) would do it twice. Reads,
and writes keyed so that a repeat rewrites the same row (fan-out's timeline keys), are
idempotent; mark the call so, and nothing else. A 4xx and a procedure's error are never
retried. Each retry waits `backoff * 2**n` seconds (n = 0, 1, ...) scaled by a random
factor in [0.5, 1) ("equal jitter", so that instances that failed together do not all
come back in the same millisecond), and signs afresh: a new nonce, or the serving
instance would refuse the retry as a replay.

Cost: one pooled keep-alive HTTP/1.1 request per instance per batch, one HMAC, and a
msgpack encode and decode per call; see docs/benchmarks.md ("Internal RPC").
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import msgspec

from .auth import Signer
from .errors import RpcCallFailed, RpcError, RpcProtocolError, RpcRefused, RpcUnavailable
from .metrics import ClientMetrics
from .registry import RpcRegistry
from .schemas import MAX_CALLS, MEDIA_TYPE, RPC_PATH, Err, Ok, RpcRequest, RpcResponse, WireCall
from .topology import Topology

# Safe to retry whatever the procedure: the request never left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RpcCall(NamedTuple):
    """One procedure call: its name, its arguments (msgspec-encodable) and the type to decode its result as."""

    procedure: str
    args: Any = None
    result_type: Any = Any


def _detail(response: httpx.Response) -> str:
    try:
        return str(msgspec.json.decode(response.content)["detail"])
    except Exception:  # not our JSON error shape (a proxy's page): show its start
        return response.text[:200] or response.reason_phrase


class RpcClient:
    """Calls other instances' procedures. One per process (`app.state.cluster.client`)."""

    def __init__(
        self,
        topology: Topology,
        secret: str | bytes | None,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.025,
        local: RpcRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.topology = topology  # replaced as a whole when the map changes (it is immutable)
        secret_bytes = secret.encode() if isinstance(secret, str) else secret
        self._signer = Signer(secret_bytes, topology.local) if secret_bytes else None
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.local = local
        self._transport, self._sleep, self._jitter = transport, sleep, jitter
        self._http: httpx.AsyncClient | None = None  # opened on the first remote call: none in a single instance
        self._encoder = msgspec.msgpack.Encoder()
        self._response_decoder = msgspec.msgpack.Decoder(RpcResponse)
        self._decoders: dict[Any, msgspec.msgpack.Decoder] = {}
        self.metrics = ClientMetrics()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- the three ways to call --------------------------------------------------------

    async def call(self, instance: str, procedure: str, args: Any = None, *, result_type: Any = Any,
                   idempotent: bool = False, timeout: float | None = None) -> Any:
        """Run one procedure on `instance` and return its result (decoded as `result_type`).

        `timeout` (default `[cluster] rpc_timeout_seconds`) bounds each attempt's connect, send
        and wait for the answer; `idempotent` allows the retries described above.
        """
        results = await self.batch(instance, [RpcCall(procedure, args, result_type)], idempotent=idempotent,
                                   timeout=timeout)
        return results[0]

    async def batch(self, instance: str, calls: Sequence[RpcCall], *, idempotent: bool = False,
                    timeout: float | None = None, return_errors: bool = False) -> list[Any]:
        """Run many procedures on one instance in ONE request; results in the calls' order."""
        self.topology.instance(instance)  # an unknown name is a TopologyError, before anything is sent
        if not calls:
            return []
        if len(calls) > MAX_CALLS:
            raise ValueError(f"a batch holds at most {MAX_CALLS} calls; put many ids in one call's arguments instead")
        wire = [WireCall(call.procedure, msgspec.Raw(self._encoder.encode(call.args))) for call in calls]
        self.metrics.calls[instance] += len(calls)
        started = time.perf_counter()
        try:
            if instance == self.topology.local and self.local is not None:
                outcomes = await self.local.run(wire)
            else:
                outcomes = await self._remote(instance, wire, idempotent, timeout)
        finally:
            self.metrics.observe(instance, time.perf_counter() - started)
        results = [self._result(instance, call, outcome) for call, outcome in zip(calls, outcomes)]
        if not return_errors:
            for result in results:
                if isinstance(result, RpcError):
                    raise result
        return results

    async def fan_out(self, calls: Iterable[tuple[str, RpcCall]], *, idempotent: bool = False,
                      timeout: float | None = None, return_errors: bool = False) -> list[Any]:
        """(instance, call) pairs -> results in the same order, with one batch per instance, all at once.

        An instance that cannot be reached fails only its own calls (its error in their
        places with `return_errors`); every batch is waited for before anything is raised.
        """
        positions: dict[str, list[int]] = {}
        grouped: dict[str, list[RpcCall]] = {}
        count = 0
        for index, (instance, call) in enumerate(calls):
            positions.setdefault(instance, []).append(index)
            grouped.setdefault(instance, []).append(call)
            count = index + 1
        for instance in grouped:  # a wrong name fails the whole call before any request leaves
            self.topology.instance(instance)

        async def one(instance: str) -> list[Any]:
            try:
                return await self.batch(instance, grouped[instance], idempotent=idempotent, timeout=timeout,
                                        return_errors=True)
            except RpcError as error:  # the whole request failed: so did each of its calls
                return [error] * len(grouped[instance])

        answers = await asyncio.gather(*(one(instance) for instance in grouped))
        results: list[Any] = [None] * count
        for instance, answer in zip(grouped, answers):
            for index, result in zip(positions[instance], answer):
                results[index] = result
        if not return_errors:
            for result in results:
                if isinstance(result, RpcError):
                    raise result
        return results

    # -- one HTTP request, with retries ------------------------------------------------

    async def _remote(self, instance: str, wire: list[WireCall], idempotent: bool, timeout: float | None) -> list[Ok | Err]:
        if self._signer is None:
            raise RpcError("internal RPC is off: no [cluster] secret is configured on this instance")
        url = self.topology.instance(instance).url.rstrip("/") + RPC_PATH
        body = self._encoder.encode(RpcRequest(wire))
        content = await self._post(instance, url, body, idempotent, timeout if timeout is not None else self.timeout)
        try:
            response = self._response_decoder.decode(content)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            self.metrics.errors[(instance, "protocol")] += 1
            raise RpcProtocolError(instance, f"not an RPC response: {error}") from None
        if len(response.results) != len(wire):
            self.metrics.errors[(instance, "protocol")] += 1
            raise RpcProtocolError(instance, f"{len(response.results)} results for {len(wire)} calls")
        return response.results

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            # trust_env=False: an HTTP(S)_PROXY meant for the outside world must not carry internal calls.
            self._http = httpx.AsyncClient(
                transport=self._transport, trust_env=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            )
        return self._http

    async def _post(self, instance: str, url: str, body: bytes, idempotent: bool, timeout: float) -> bytes:
        http, path = self._http_client(), urlsplit(url).path
        attempt = 0
        while True:
            headers = self._signer.headers(instance, "POST", path, body)  # a fresh nonce per attempt
            headers["content-type"] = MEDIA_TYPE
            self.metrics.requests[instance] += 1
            try:
                response = await http.post(url, content=body, headers=headers, timeout=timeout)
            except _NOT_SENT as error:
                failure, may_retry = RpcUnavailable(instance, f"cannot connect to {url}: {error!r}"), True
            except httpx.TimeoutException:
                failure, may_retry = RpcUnavailable(instance, f"no answer within {timeout:g} s"), idempotent
            except httpx.TransportError as error:
                failure, may_retry = RpcUnavailable(instance, f"{type(error).__name__}: {error}"), idempotent
            else:
                status = response.status_code
                if status < 300:
                    return response.content
                if status < 500:
                    self.metrics.errors[(instance, "refused")] += 1
                    raise RpcRefused(instance, status, _detail(response))
                failure, may_retry = RpcUnavailable(instance, f"answered {status}: {_detail(response)}"), idempotent
            if not may_retry or attempt == self.retries:
                self.metrics.errors[(instance, "unavailable")] += 1
                raise failure
            self.metrics.retries[instance] += 1
            await self._sleep(self.backoff * 2**attempt * (0.5 + self._jitter() / 2))
            attempt += 1

    # -- results -----------------------------------------------------------------------

    def _result(self, instance: str, call: RpcCall, outcome: Ok | Err) -> Any:
        if type(outcome) is Err:
            self.metrics.errors[(instance, "procedure")] += 1
            return RpcCallFailed(instance, call.procedure, outcome.code, outcome.detail, outcome.data)
        try:
            return self._decoder(call.result_type).decode(outcome.value)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            self.metrics.errors[(instance, "procedure")] += 1
            return RpcCallFailed(instance, call.procedure, "bad_result", f"not a {call.result_type!r}: {error}")

    def _decoder(self, result_type: Any) -> msgspec.msgpack.Decoder:
        try:
            decoder = self._decoders.get(result_type)
        except TypeError:  # an unhashable type expression: no cache, still decoded
            return msgspec.msgpack.Decoder(result_type)
        if decoder is None:
            decoder = self._decoders[result_type] = msgspec.msgpack.Decoder(result_type)
        return decoder
