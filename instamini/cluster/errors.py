"""What can go wrong in the cluster layer, as one tree.

Raised by the client (`RpcClient`) to the code that made a call:

    RpcError                  base of everything below
    ├── RpcUnavailable        the instance could not be reached, timed out or answered 5xx,
    │                         after the retries the call allowed (the procedure may or may
    │                         not have run, unless the connection itself failed)
    ├── RpcRefused            the instance refused the request before running anything (a 4xx):
    │                         bad or missing signature, stale timestamp, replayed nonce, RPC
    │                         off on that instance, malformed body; `status_code`, `detail`.
    │                         Never retried: sending it again would be refused again.
    ├── RpcProtocolError      the answer was not a well-formed RPC response
    └── RpcCallFailed         the procedure itself failed: `procedure`, `code`, `detail`, `data`.
                              Codes: unknown_procedure, bad_args, not_my_shard, sql_error,
                              bad_result, internal, or what a handler chose (ProcedureError).

Raised by procedure handlers, on the serving instance, to send a typed error back:

    ProcedureError(code, detail, data=None)
    └── NotMyShard(shard, owner)   code "not_my_shard", data {"shard", "owner"}

And by the topology, when a map is impossible (config.py turns it into a ConfigError):

    TopologyError             a gap, an overlap, an unknown instance, a bad range ...
"""

from __future__ import annotations

from typing import Any


class TopologyError(ValueError):
    """The cluster map is impossible; the message names the key that is wrong."""


class RpcError(Exception):
    """Base of the errors an internal RPC call raises."""


class RpcUnavailable(RpcError):
    def __init__(self, instance: str, detail: str) -> None:
        super().__init__(f"instance {instance!r} is unavailable: {detail}")
        self.instance, self.detail = instance, detail


class RpcRefused(RpcError):
    def __init__(self, instance: str, status_code: int, detail: str) -> None:
        super().__init__(f"instance {instance!r} refused the request ({status_code}): {detail}")
        self.instance, self.status_code, self.detail = instance, status_code, detail


class RpcProtocolError(RpcError):
    def __init__(self, instance: str, detail: str) -> None:
        super().__init__(f"instance {instance!r} sent a bad answer: {detail}")
        self.instance, self.detail = instance, detail


class RpcCallFailed(RpcError):
    def __init__(self, instance: str, procedure: str, code: str, detail: str, data: Any = None) -> None:
        super().__init__(f"{procedure} on {instance!r} failed ({code}): {detail}")
        self.instance, self.procedure, self.code, self.detail, self.data = instance, procedure, code, detail, data


class ProcedureError(Exception):
    """Raise from a procedure handler to answer the caller with this code instead of "internal"."""

    def __init__(self, code: str, detail: str, data: Any = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.data = code, detail, data


class NotMyShard(ProcedureError):
    def __init__(self, shard: int, owner: str) -> None:
        super().__init__(
            "not_my_shard", f"shard {shard} is not on this instance: instance {owner!r} owns it",
            {"shard": shard, "owner": owner},
        )
