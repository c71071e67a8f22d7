"""The websocket protocol: JSON frames tagged by `type`, decoded by one typed decoder.

The idea (msgspec's tagged unions): every frame a client may send is a Struct with a
`type` tag, and one `Decoder(ClientFrame)` turns bytes into the right Struct or raises
on anything else: malformed JSON, an unknown type, a missing field or a wrong type all
become one error frame, and no handler ever sees an unchecked dict.

Client -> server: `ping` (answered `pong`), `pong` (to the server's ping), `typing`,
`read`, `message`.
Server -> client: `ping` (on a quiet socket: answer it), `pong`, `typing`, `read`,
`message`, `ack` (a message you sent is stored; its id), `notification`, `error`.

Cost: one decode per frame received; frames pushed to many sockets are encoded once.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

IdString = Annotated[str, Meta(max_length=20, pattern=r"^[0-9]+$")]
MAX_TEXT = 2000


class Frame(Struct, tag_field="type", forbid_unknown_fields=True):
    pass


class Ping(Frame, tag="ping"):
    pass


class Pong(Frame, tag="pong"):
    pass


class Typing(Frame, tag="typing"):
    thread_id: IdString


class Read(Frame, tag="read"):
    thread_id: IdString
    message_id: IdString


class SendMessage(Frame, tag="message"):
    thread_id: IdString
    text: Annotated[str, Meta(max_length=MAX_TEXT)] = ""
    media_id: IdString | None = None
    post_id: IdString | None = None
    client_id: Annotated[str, Meta(max_length=64)] | None = None  # echoed in the ack, to match it


ClientFrame = Ping | Pong | Typing | Read | SendMessage
client_frames = msgspec.json.Decoder(ClientFrame)


def encode(type_: str, **fields: Any) -> bytes:
    """A server frame as JSON bytes: encode once, send to many sockets."""
    return msgspec.json.encode({"type": type_, **fields})


def error(code: str, detail: str) -> bytes:
    return encode("error", code=code, detail=detail)
