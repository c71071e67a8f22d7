"""The named procedures this instance serves to the others, and how a batch of calls runs.

The idea (a remote procedure call, as gRPC or Erlang's rpc:call, kept to one table):
a module registers `async def handler(args) -> result` under a dotted name in its
lifespan, and the RPC route looks the name up. `args` is decoded with the type the
handler's first parameter declares (a msgspec Struct, a list ...), so wrong arguments
are refused as `bad_args` before the handler runs; a handler with no parameter takes
none. Whatever happens inside, the caller gets a typed answer, never an HTML page:

    ProcedureError (or NotMyShard)  -> its own code, detail and data
    an InstaminiError (NotFound ...)  -> its class name in snake case: "not_found"
    anything else                     -> "internal", with the exception's type and message

The calls of one batch run concurrently and their results come back in the calls'
order. A batch is not a transaction: each call succeeds or fails on its own.

Cost: a dict lookup and one msgpack decode and encode per call; nothing at all for a
procedure that is never called.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import typing
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from ..errors import InstaminiError
from .errors import ProcedureError
from .schemas import Err, Ok, WireCall

log = logging.getLogger(__name__)
Handler = Callable[..., Awaitable[Any]]


class Procedure:
    __slots__ = ("name", "handler", "decoder", "takes_args")

    def __init__(self, name: str, handler: Handler, args_type: Any, takes_args: bool) -> None:
        self.name, self.handler, self.takes_args = name, handler, takes_args
        self.decoder = msgspec.msgpack.Decoder(args_type)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _args_type(handler: Handler) -> tuple[Any, bool]:
    parameters = list(inspect.signature(handler).parameters.values())
    if not parameters:
        return Any, False
    try:
        hints = typing.get_type_hints(handler)
    except NameError as error:
        raise TypeError(f"cannot resolve the argument type of {handler.__qualname__} ({error}): pass args_type=") from None
    return hints.get(parameters[0].name, Any), True


class RpcRegistry:
    """`registry.register("posts.load", handler)` or `@registry.procedure("posts.load")`."""

    def __init__(self) -> None:
        self._procedures: dict[str, Procedure] = {}
        self._encoder = msgspec.msgpack.Encoder()
        # (procedure, "ok" or the error code) -> calls run here, for /metrics.
        self.outcomes: Counter[tuple[str, str]] = Counter()

    def register(self, name: str, handler: Handler, *, args_type: Any = None) -> None:
        if name in self._procedures:
            raise ValueError(f"procedure {name!r} is already registered")
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"procedure {name!r} must be an async function")
        declared, takes_args = _args_type(handler)
        self._procedures[name] = Procedure(name, handler, args_type if args_type is not None else declared, takes_args)

    def procedure(self, name: str, *, args_type: Any = None) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.register(name, handler, args_type=args_type)
            return handler

        return decorate

    def names(self) -> list[str]:
        return sorted(self._procedures)

    def __contains__(self, name: str) -> bool:
        return name in self._procedures

    async def run(self, calls: Sequence[WireCall]) -> list[Ok | Err]:
        if len(calls) == 1:  # the common case pays for no task
            return [await self.run_one(calls[0])]
        return list(await asyncio.gather(*(self.run_one(call) for call in calls)))

    async def run_one(self, call: WireCall) -> Ok | Err:
        outcome = await self._run(call)
        label = call.procedure if call.procedure in self._procedures else "(unknown)"
        self.outcomes[(label, "ok" if type(outcome) is Ok else outcome.code)] += 1
        return outcome

    async def _run(self, call: WireCall) -> Ok | Err:
        procedure = self._procedures.get(call.procedure)
        if procedure is None:
            return Err("unknown_procedure", f"no procedure {call.procedure!r} on this instance")
        try:
            args = procedure.decoder.decode(call.args)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            return Err("bad_args", f"{call.procedure}: {error}")
        try:
            result = await (procedure.handler(args) if procedure.takes_args else procedure.handler())
        except ProcedureError as error:
            return Err(error.code, error.detail, error.data)
        except InstaminiError as error:
            return Err(_snake(type(error).__name__), error.detail)
        except Exception as error:  # a bug in a handler is the caller's typed error, not a 500
            log.exception("RPC procedure %s failed", call.procedure)
            return Err("internal", f"{type(error).__name__}: {error}")
        try:
            return Ok(msgspec.Raw(self._encoder.encode(result)))
        except (TypeError, msgspec.EncodeError) as error:
            return Err("internal", f"{call.procedure} returned a value msgpack cannot carry: {error}")
