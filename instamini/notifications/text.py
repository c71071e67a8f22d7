"""The sentences of notifications: "alice and 3 others liked your post".

The idea: the stored row says who (the newest few actors and how many in all) and
what; the sentence is made when it is shown, so it never goes stale when a group
grows or shrinks. Cost: a little string formatting per item shown.
"""

from __future__ import annotations

PREVIEW_CHARS = 100

_SENTENCES = {
    "like": "{who} liked your post",
    "comment": "{who} commented: {preview}",
    "reply": "{who} replied to your comment",
    "mention": "{who} mentioned you in a post",
    "comment_mention": "{who} mentioned you in a comment",
    "follow": "{who} started following you",
    "follow_request": "{who} asked to follow you",
    "request_accepted": "{who} accepted your follow request",
}


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of a caption or comment on one line, cut at `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def who(names: list[str], count: int) -> str:
    """'alice', 'alice and bob', 'alice and 3 others': the newest actor named first."""
    if not names:
        return "someone"
    if count == 1:
        return names[0]
    if count == 2 and len(names) >= 2:
        return f"{names[0]} and {names[1]}"
    others = count - 1
    return f"{names[0]} and {others} {'other' if others == 1 else 'others'}"


def summary(kind: str, names: list[str], actor_count: int, event_count: int, text_preview: str | None, in_comment: bool) -> str:
    people = who(names, actor_count)
    if kind == "message":
        what = "a message" if event_count == 1 else f"{event_count} messages"
        return f"{people} sent you {what}"
    if kind == "mention" and in_comment:
        kind = "comment_mention"
    return _SENTENCES.get(kind, "{who} did something").format(who=people, preview=text_preview or "")
