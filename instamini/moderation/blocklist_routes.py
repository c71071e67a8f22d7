"""HTTP handlers of the harmful-media blocklist: admins list, add and remove perceptual hashes."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from ..accounts.auth import Viewer
from ..errors import Forbidden, InvalidInput, NotFound
from ..ids import parse_id
from ..ranker.phash import to_hex
from .blocklist import BlockedHash
from .routes import is_admin

EntryId = Annotated[str, Parameter(max_length=20, description="a blocklist entry id")]
AnId = Annotated[str, msgspec.Meta(max_length=20)]


class BlockIn(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of media_id (that upload's image) and post_id (every item of that post).

    `remove_matching` also removes every published post with an item that matches.
    """

    media_id: AnId | None = None
    post_id: AnId | None = None
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""
    remove_matching: bool = False


def entry_out(entry: BlockedHash) -> dict:
    return {
        "id": str(entry.id),
        "phash": to_hex(entry.phash),
        "note": entry.note,
        "added_by": str(entry.added_by),
        "added_ms": entry.added_ms,
    }


def _parse(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    parsed = parse_id(text)
    if parsed is None:
        raise NotFound(f"no such {what}")
    return parsed


@get("/api/v1/admin/blocklist", guards=[is_admin], tags=["moderation"], summary="The media blocklist, newest first",
     raises=[Forbidden])
async def list_blocklist(state: State) -> dict:
    return {"items": [entry_out(entry) for entry in state.blocklist.list()]}


@post("/api/v1/admin/blocklist", guards=[is_admin], tags=["moderation"], status_code=201,
      summary="Block the images of a media item or a post", raises=[Forbidden, NotFound])
async def add_to_blocklist(data: JSONBody[BlockIn], request: Request[Viewer, str, State], state: State) -> dict:
    if (data.media_id is None) == (data.post_id is None):
        raise InvalidInput("give either media_id or post_id, not both")
    media_id, post_id = _parse(data.media_id, "media"), _parse(data.post_id, "post")
    entries = await state.blocklist.block(request.user.id, media_id, post_id, data.note)
    removed: list[str] = []
    removed_stories: list[str] = []
    if data.remove_matching:
        stories = state.get("stories")
        # media.post_id names a post, or a story for a story's media: take down whichever it is.
        for matching in await state.blocklist.matching_posts([entry.phash for entry in entries]):
            try:
                await state.posts.remove(matching)
                removed.append(str(matching))
            except NotFound:  # a story, or a post deleted meanwhile
                if stories is not None and await stories.remove(matching):
                    removed_stories.append(str(matching))
    return {"items": [entry_out(entry) for entry in entries], "removed_posts": removed, "removed_stories": removed_stories}


@delete("/api/v1/admin/blocklist/{entry_id:str}", guards=[is_admin], tags=["moderation"],
        summary="Remove an entry from the media blocklist", raises=[Forbidden, NotFound])
async def remove_from_blocklist(entry_id: EntryId, state: State) -> None:
    parsed = parse_id(entry_id)
    if parsed is None:
        raise NotFound("no such blocklist entry")
    await state.blocklist.remove(parsed)


BLOCKLIST_ROUTES = [list_blocklist, add_to_blocklist, remove_from_blocklist]
