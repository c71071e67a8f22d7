"""The demo's posts, carousels, captions, likes and comments, written shard by shard.

The idea: everything a post needs lives on its author's shard (posts, media,
post_tags, post_mentions, likes, comments, their counters), so the content of
each shard is made and written on its own, in post-id order, with no state kept
across shards. What is generated mirrors what people do:
- posts per person: log-normal around `--posts-per-user` (many post little, a few
  a lot); celebrities post three times as much; times spread over the last 30 days;
- each post shows 1 picture, sometimes a carousel of 2 to 5;
- captions: a sentence, hashtags from a small vocabulary (popular ones more often)
  and now and then an @mention of someone the author follows; hashtags and mentions
  are extracted by `instamini.posts.text`, the code the posts service runs;
- likes: a share (log-normal, about 5%) of the author's accepted followers, plus a few
  strangers on public accounts: celebrities' posts collect thousands;
- comments: a tenth of the likers or so, by likers; about 30% are replies, one level
  deep as the comments module keeps them, half of those by the post's author.
Only people who may see a post (followers of a private account) like or comment it.

Cost: O(posts + likes + comments) Python work; rows are sorted per shard before
insertion so the B-trees are appended to.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import msgspec

from ..config import PostsConfig
from ..ids import created_ms, shard_of
from ..posts import text
from .clock import QUANTUM_MS, IdMint, Timeline
from .network import FollowGraph, People, ZipfRanks
from .pictures import Picture
from .writer import BulkLoad

HASHTAGS = (
    "photography travel nature sunset food coffee city art summer beach mountains friends weekend love "
    "streetphotography architecture flowers sky dog cat books music hiking goldenhour foodie instagood "
    "tbt minimal film portrait rain night"
).split()
CAPTIONS = (
    "Golden hour again", "Weekend mood", "Could look at this all day", "New favourite spot", "Sunday walk",
    "Colours!", "Not bad for a Tuesday", "Found this on the way home", "Throwback", "Home", "Slow morning",
    "Tried something new", "Views", "Little things", "Back again", "Out and about",
)
COMMENTS = (
    "Love this!", "So good", "Wow 😍", "Where is this?", "Amazing colours", "🔥🔥🔥", "Need to go there",
    "Beautiful", "This is everything", "Great shot!", "Miss this place", "😂", "Goals",
)
REPLIES = ("thank you!", "right?!", "it's closer than you think", "❤️", "haha yes", "next time together")
CAROUSEL_SIZES = (1,) * 78 + (2,) * 12 + (3,) * 6 + (4,) * 2 + (5,) * 2
LIKE_RATE_MEDIAN, LIKE_RATE_SIGMA, LIKE_RATE_MAX = 0.05, 0.7, 0.6
HOUR_MS = 3_600_000
MAX_COMMENTS = 300
_json = msgspec.json.encode


@dataclass
class Totals:
    posts: int = 0
    media: int = 0
    likes: int = 0
    comments: int = 0
    replies: int = 0
    spare_media: int = 0
    # How many media rows show each picture: its blobs' reference count.
    picture_uses: list[int] = field(default_factory=list)


@dataclass
class ShardRows:
    """One shard's content rows, gathered so that each table is inserted in key order."""

    posts: list[tuple] = field(default_factory=list)
    media: list[tuple] = field(default_factory=list)
    post_tags: list[tuple] = field(default_factory=list)
    post_mentions: list[tuple] = field(default_factory=list)
    likes: list[tuple] = field(default_factory=list)
    comments: list[tuple] = field(default_factory=list)
    counters: list[tuple] = field(default_factory=list)

    def write(self, load: BulkLoad, shard: int) -> None:
        for table in ("posts", "media", "post_tags", "post_mentions", "likes", "comments", "counters"):
            load.add(shard, table, sorted(getattr(self, table)))


class ContentMaker:
    def __init__(
        self,
        rng: random.Random,
        people: People,
        graph: FollowGraph,
        pictures: list[Picture],
        timeline: Timeline,
        mint: IdMint,
        posts_config: PostsConfig,
        posts_per_user: float,
    ) -> None:
        self.rng, self.people, self.graph, self.pictures = rng, people, graph, pictures
        self.timeline, self.mint, self.config = timeline, mint, posts_config
        self.posts_per_user = posts_per_user
        self.person_by_name = {name: person for person, name in enumerate(people.names)}
        self.tag_ranks = ZipfRanks(len(HASHTAGS), exponent=0.9, offset=1)
        self.totals = Totals(picture_uses=[0] * len(pictures))

    # -- media rows --------------------------------------------------------------------

    def media_row(self, owner: int, moment: int, picture: int, post_id: int | None, position: int | None) -> tuple:
        """A ready image as media.records.finish_ready leaves it, showing one of the pictures."""
        shown = self.pictures[picture]
        self.totals.picture_uses[picture] += 1
        media_id = self.mint.at(moment, self.people.shards[owner])
        return (
            media_id, self.people.ids[owner], shown.width, shown.height, shown.placeholder, shown.variants_json,
            post_id, position, shown.upload_bytes, created_ms(media_id),
        )

    def avatar_rows(self, members: list[int]) -> tuple[list[tuple], dict[int, int]]:
        """Profile photos (unattached media, which the janitor keeps) and who has which."""
        rows, avatar_ids = [], {}
        for person in members:
            picture = self.people.avatars[person]
            if picture is not None:
                # Set up just before the 30 days of activity began.
                row = self.media_row(person, self.timeline.start, picture, None, None)
                rows.append(row)
                avatar_ids[person] = row[0]
        return rows, avatar_ids

    def spare_rows(self, members: list[int], per_person: int) -> list[tuple]:
        """Ready, unattached uploads for benchmarks to post without uploading. Made "now",
        as the janitor deletes unposted uploads `[media] unused_media_hours` after their creation."""
        # Pictures in turn, not drawn: asking for spare media leaves the rest of the network as it was.
        rows = [
            self.media_row(person, self.timeline.end, (person + i) % len(self.pictures), None, None)
            for person in members
            for i in range(per_person)
        ]
        self.totals.spare_media += len(rows)
        return rows

    # -- posts -------------------------------------------------------------------------

    def post_count(self, person: int) -> int:
        if self.posts_per_user <= 0:
            return 0
        sigma = 1.0
        mean = self.posts_per_user * (3 if person < self.people.celebrities else 1)
        drawn = self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
        return min(round(drawn), int(30 * mean) + 10)

    def shard_rows(self, shard: int, members: list[int]) -> ShardRows:
        rows = ShardRows()
        planned = []
        for person in members:
            count = self.post_count(person)
            if count:
                rows.counters.append((self.people.ids[person], "posts", count))
            for _ in range(count):
                moment = self.timeline.activity(self.rng)
                planned.append((self.mint.at(moment, shard), person, moment))
        planned.sort()
        for post_id, author, moment in planned:
            self.add_post(rows, post_id, author, moment)
        return rows

    def add_post(self, rows: ShardRows, post_id: int, author: int, moment: int) -> None:
        caption = self.caption(author)
        tags = text.hashtags(caption, self.config.max_hashtags)
        mentioned = [self.people.ids[self.person_by_name[name]] for name in text.mentioned_names(caption, self.config.max_mentions)]
        rows.posts.append((post_id, self.people.ids[author], caption, _json(tags).decode(), _json(mentioned).decode()))
        rows.post_tags += [(tag, post_id) for tag in tags]
        rows.post_mentions += [(post_id, user_id) for user_id in mentioned]
        size = min(self.rng.choice(CAROUSEL_SIZES), len(self.pictures))
        for position, picture in enumerate(self.rng.sample(range(len(self.pictures)), size)):
            uploaded = moment - self.rng.randrange(10_000, 600_000)  # picked and uploaded a little before
            rows.media.append(self.media_row(author, uploaded, picture, post_id, position))
        likers = self.likers(author)
        self.add_likes(rows, post_id, moment, likers)
        self.add_comments(rows, post_id, author, moment, likers)
        self.totals.posts += 1
        self.totals.media += size

    def caption(self, author: int) -> str:
        words = [self.rng.choice(CAPTIONS)]
        if self.rng.random() < 0.12:
            words.append(f"with @{self.people.names[self.someone_followed(author)]}")
        drawn = {HASHTAGS[self.tag_ranks.draw(self.rng)] for _ in range(self.rng.choice((0, 1, 1, 2, 2, 3, 4, 5)))}
        words += [f"#{tag}" for tag in sorted(drawn)]
        return " ".join(words)

    def someone_followed(self, author: int) -> int:
        follows = self.graph.targets(author)
        if not follows:
            return self.rng.randrange(self.people.celebrities)
        return self.graph.dst[self.rng.choice(follows)]

    # -- likes and comments ----------------------------------------------------------------

    def likers(self, author: int) -> list[int]:
        """Who likes a post: some accepted followers, and a few strangers if the account is public."""
        graph, rng = self.graph, self.rng
        incoming = graph.sources(author)
        rate = min(LIKE_RATE_MAX, rng.lognormvariate(math.log(LIKE_RATE_MEDIAN), LIKE_RATE_SIGMA))
        drawn = rng.sample(incoming, min(len(incoming), round(len(incoming) * rate)))
        likers = {graph.src[graph.in_edges[p]] for p in drawn if not graph.pending[graph.in_edges[p]]}
        if not self.people.private[author]:
            for _ in range(len(likers) // 10 + rng.randrange(3)):
                likers.add(rng.randrange(len(self.people)))
        likers.discard(author)
        return sorted(likers)

    def add_likes(self, rows: ShardRows, post_id: int, moment: int, likers: list[int]) -> None:
        for liker in likers:
            # A like is made on the post's shard (see posts.reactions), after the post.
            like_id = self.mint.at(self.timeline.after(self.rng, moment + QUANTUM_MS, 6 * HOUR_MS), shard_of(post_id))
            rows.likes.append((post_id, self.people.ids[liker], like_id))
        if likers:
            rows.counters.append((post_id, "likes", len(likers)))
            self.totals.likes += len(likers)

    def add_comments(self, rows: ShardRows, post_id: int, author: int, moment: int, likers: list[int]) -> None:
        rng, names = self.rng, self.people.names
        count = min(MAX_COMMENTS, round(len(likers) * rng.uniform(0, 0.2)) + (rng.random() < 0.25))
        if not count:
            return
        commenters = likers or [author]
        moments = sorted(self.timeline.after(rng, moment + QUANTUM_MS, 8 * HOUR_MS) for _ in range(count))
        threads: list[list[int]] = []  # each top-level comment's id, then its replies' ids
        written_by: dict[int, int] = {}
        for when in moments:
            # Minted in time order on the post's shard: a reply's id is above its parent's.
            comment_id = self.mint.at(when, shard_of(post_id))
            if threads and rng.random() < 0.3:
                thread = rng.choice(threads)
                reply_to = rng.choice(thread)
                writer = author if rng.random() < 0.5 else rng.choice(commenters)
                words = f"@{names[written_by[reply_to]]} {rng.choice(REPLIES)}"
                rows.comments.append((comment_id, post_id, self.people.ids[writer], thread[0], reply_to, words))
                thread.append(comment_id)
                self.totals.replies += 1
            else:
                writer = rng.choice(commenters)
                rows.comments.append((comment_id, post_id, self.people.ids[writer], None, None, rng.choice(COMMENTS)))
                threads.append([comment_id])
            written_by[comment_id] = writer
        rows.counters.append((post_id, "comments", count))
        self.totals.comments += count
