"""Origins: the instances an edge fetches from, tried in turn, a failing one skipped.

The idea: an edge sits in front of one or more instances that hold the media. A
request goes first to the origin that answered last; one that is down costs one
failed connect, then the next is asked. Media fetches (GET, idempotent) fail over
on any error before their first byte, and on a 404 too: in a cluster each instance
holds different files. Passed-through requests fail over only when the connection
was refused or never made, because after that the origin may already have acted.

The cost: one pooled httpx client for all origins; a media fetch is streamed into
the cache's temp file, never held whole in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import httpx

from ..errors import InstaminiError, NotFound

# httpx adds these to every request; a proxy must send only what its client sent.
HTTPX_DEFAULTS = ("accept", "accept-encoding", "user-agent")


class OriginError(InstaminiError):
    """502: no origin gave an answer the edge can use (down, refused, broke off, wrong bytes)."""

    status_code = 502


class OriginTimeout(OriginError):
    """504: an origin took longer than `origin_timeout_seconds`."""

    status_code = 504


def _failure(problems: list[str], timed_out: bool) -> OriginError:
    kind = OriginTimeout if timed_out else OriginError
    return kind("no origin answered: " + "; ".join(problems))


class Origins:
    """`await origins.media(name)` streams a file; `await origins.send(...)` passes a request on."""

    def __init__(
        self, urls: list[str], *, timeout: float = 10.0, connect_timeout: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None, headers: dict[str, str] | None = None,
        trust_env: bool = True,
    ) -> None:
        """`headers` go with every request (an instance asking its peers says who it is);
        `trust_env=False` ignores HTTP(S)_PROXY, which is meant for the outside world, not
        for calls between the instances of a cluster."""
        if not urls:
            raise ValueError("an edge needs at least one origin")
        self.urls = [url.rstrip("/") for url in urls]
        self.client = httpx.AsyncClient(
            transport=transport,
            headers=headers,
            trust_env=trust_env,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            follow_redirects=False,  # a redirect is the client's to follow, not ours
        )
        self._preferred = 0

    def _in_turn(self) -> list[int]:
        return [(self._preferred + step) % len(self.urls) for step in range(len(self.urls))]

    async def aclose(self) -> None:
        await self.client.aclose()

    async def media(self, name: str) -> AsyncGenerator[bytes, None]:
        """The bytes of `/media/<name>` from the first origin that has it (an EdgeCache Fetch)."""
        problems, timed_out, missing = [], False, 0
        for index in self._in_turn():
            origin, started = self.urls[index], False
            try:
                async with self.client.stream("GET", f"{origin}/media/{name}") as response:
                    if response.status_code != 200:
                        missing += response.status_code == 404
                        problems.append(f"{origin} answered {response.status_code}")
                        continue
                    self._preferred = index
                    async for chunk in response.aiter_bytes():
                        started = True
                        yield chunk
                    return
            except httpx.RequestError as error:  # transport failures, and a body that does not decode
                timed_out |= isinstance(error, httpx.TimeoutException)
                problems.append(f"{origin}: {type(error).__name__}")
                if started:  # half a file already went to the cache: no other origin can finish it
                    raise _failure(problems, timed_out) from None
        if missing == len(self.urls):
            raise NotFound("no such media file")
        raise _failure(problems, timed_out)

    async def send(
        self, method: str, target: str, headers: list[tuple[str, str]], body: AsyncIterator[bytes] | None,
        first: int | None = None,
    ) -> httpx.Response:
        """Pass a request to an origin; the response streams (the caller closes it).

        `target` is the raw path and query, as the client sent them; `first`, the index of the
        origin to try before the others (the sender's instance, routing.py).
        """
        started = False

        async def tracked() -> AsyncGenerator[bytes, None]:
            nonlocal started
            started = True
            async for chunk in body:
                yield chunk

        content = tracked() if body is not None else None
        given = {name.lower() for name, _ in headers}
        problems, timed_out = [], False
        order = self._in_turn() if first is None else [first, *(i for i in self._in_turn() if i != first)]
        for index in order:
            origin = self.urls[index]
            request = self.client.build_request(method, origin + target, headers=headers, content=content)
            for name in HTTPX_DEFAULTS:
                if name not in given:
                    del request.headers[name]
            try:
                response = await self.client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                timed_out |= isinstance(error, httpx.ConnectTimeout)
                problems.append(f"{origin}: {type(error).__name__}")
                if started:  # the body is half sent and cannot be read again
                    break
                continue
            except httpx.RequestError as error:
                problems.append(f"{origin}: {type(error).__name__}")
                raise _failure(problems, isinstance(error, httpx.TimeoutException)) from None
            if first is None:
                self._preferred = index
            return response
        raise _failure(problems, timed_out)
