"""What people do, taught to the ranker on the instance that ranks for them.

The idea: a like, a save, a comment, a watched story or a message says something
about the person who did it (their affinity with an author, their taste for a kind
of post) and may label an impression they were shown. Both live with that person's
owner: their feature entries are in its LMDB cache and their impressions were logged
there, since every ranked surface (feed, Explore, the story tray) is made on the
viewer's owner. The event, though, fires where the post lives (its author's owner).
So each signal is a method run on the actor's owner (`@owned`, docs/cluster.md); on a
single instance it is a plain call.

Cost: nothing more on a single instance; in a cluster one RPC round trip per signal
whose actor is elsewhere (the event's listener awaits it; the request that caused it
does not).
"""

from __future__ import annotations

from ..cluster.forward import owned
from ..ids import shard_of
from .features import FeatureExtractor
from .impressions import ImpressionLog


class RankerSignals:
    def __init__(self, features: FeatureExtractor, impressions: ImpressionLog) -> None:
        self.features, self.impressions = features, impressions
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def acted_on_post(self, viewer_id: int, post_id: int, author_id: int, kind: str | None, action: str) -> None:
        self.features.interacted(viewer_id, author_id, kind, action)
        self.impressions.interacted(viewer_id, post_id)

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def watched_story(self, viewer_id: int, author_id: int) -> None:
        self.features.interacted(viewer_id, author_id, "story", "story_seen")
        self.impressions.interacted(viewer_id, author_id, story=True)

    @owned(lambda self, sender_id, *_: shard_of(sender_id))
    async def messaged(self, sender_id: int, recipient_ids: list[int]) -> None:
        for recipient in recipient_ids:
            self.features.interacted(sender_id, recipient, None, "message")
