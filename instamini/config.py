"""Settings: `config.toml` decoded into typed msgspec Structs.

The idea: one file lists every setting with its default and a comment, and the
program refuses to start on a typo or a wrong type instead of silently ignoring
it (`forbid_unknown_fields`). Cost: nothing at run time; config is read once at
start and passed down explicitly, never kept in a global.

Where the file comes from, first match wins: `--config PATH`, the environment
variable INSTAMINI_CONFIG, `./config.toml`, or built-in defaults if none exists.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct, field


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message says where."""


Port = Annotated[int, Meta(ge=0, le=65535)]
Positive = Annotated[int, Meta(ge=1)]
# A byte count with an optional binary suffix: 1048576, 512M, 2G (K, M, G, T are powers of 1024).
SizeText = Annotated[str, Meta(pattern=r"^[1-9][0-9]*[KMGTkmgt]?$")]
OriginUrl = Annotated[str, Meta(pattern=r"^https?://[^/?#\s]+/?$")]
_SIZE_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """'512M' -> 536870912; raises ValueError on anything but digits and one K/M/G/T suffix."""
    text = text.strip().upper()
    multiplier = _SIZE_SUFFIXES.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in _SIZE_SUFFIXES else text
    if not digits.isascii() or not digits.isdigit() or int(digits) == 0:
        raise ValueError(f"not a size: {text!r} (use bytes, or a number with K, M, G or T: 512M, 2G)")
    return int(digits) * multiplier


class _Section(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: Port = 8000
    data_dir: str = "data"
    # Origins (scheme://host:port) allowed to use cookie sessions and websockets.
    allowed_origins: list[str] = field(default_factory=list)
    debug: bool = False
    # Mark the session cookies Secure even when the request came over plain http (behind a TLS proxy).
    secure_cookies: bool = False
    # Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client
    # (client_address.py); empty: every address is the connection's own.
    trusted_proxies: list[str] = field(default_factory=list)


class ModulesConfig(_Section):
    accounts: bool = True
    graph: bool = True
    media: bool = True
    posts: bool = True
    ranker: bool = True
    feed: bool = True
    realtime: bool = True
    messages: bool = True
    notifications: bool = True
    stories: bool = True
    search: bool = True
    system: bool = True
    cluster: bool = True
    explore: bool = True
    moderation: bool = True
    web: bool = True


class MetaConfig(_Section):
    shards: Annotated[int, Meta(ge=1, le=8192)] = 8
    group_commit: bool = True
    max_batch: Positive = 256
    busy_timeout_ms: Positive = 5000


class CacheConfig(_Section):
    map_size_mb: Positive = 256
    max_map_size_mb: Positive = 4096


class BlobsConfig(_Section):
    gc_grace_seconds: Annotated[int, Meta(ge=0)] = 3600


class AccountsConfig(_Section):
    argon2_time_cost: Positive = 2
    argon2_memory_kib: Annotated[int, Meta(ge=8)] = 19456
    argon2_parallelism: Positive = 1
    max_concurrent_hashes: Positive = 2
    max_waiting_hashes: Positive = 32
    session_days: Positive = 90
    login_attempts_per_account: Positive = 10
    login_window_seconds: Positive = 300
    login_known_address_days: Positive = 30
    logins_per_address_per_minute: Positive = 30
    registrations_per_address_per_minute: Positive = 10


class MediaConfig(_Section):
    max_image_mb: Positive = 40
    max_video_mb: Positive = 300
    workers: Positive = 2
    worker_memory_mb: Annotated[int, Meta(ge=256)] = 1536
    job_cpu_seconds: Positive = 300
    job_wall_seconds: Positive = 600
    max_attempts: Positive = 3
    max_pixels: Positive = 64_000_000
    max_frames: Positive = 200
    image_widths: list[Positive] = field(default_factory=lambda: [1080, 640, 320])
    webp_quality: Annotated[int, Meta(ge=1, le=100)] = 80
    jpeg_quality: Annotated[int, Meta(ge=1, le=95)] = 82
    video_height: Annotated[int, Meta(ge=144, le=2160)] = 720
    video_crf: Annotated[int, Meta(ge=0, le=51)] = 23
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"] = (
        "veryfast"
    )
    video_threads: Annotated[int, Meta(ge=1, le=16)] = 2
    max_video_seconds: Positive = 180
    max_video_pixels: Positive = 3840 * 2160
    max_video_fps: Positive = 120
    video_thumbnails: Annotated[int, Meta(ge=0, le=10)] = 3
    video_codecs: list[str] = field(default_factory=lambda: ["h264", "hevc", "vp8", "vp9", "av1", "mpeg4"])
    audio_codecs: list[str] = field(
        default_factory=lambda: ["aac", "mp3", "opus", "vorbis", "alac", "pcm_s16le", "pcm_s16be"]
    )
    unused_media_hours: Positive = 24
    background_jobs: bool = True
    uploads_per_address_per_minute: Positive = 60


class PostsConfig(_Section):
    max_items: Annotated[int, Meta(ge=1, le=10)] = 10
    max_caption_chars: Positive = 2200
    max_alt_text_chars: Positive = 1000
    max_comment_chars: Positive = 2200
    max_hashtags: Positive = 30
    max_mentions: Positive = 20


class FeedConfig(_Section):
    strategy: Literal["push", "pull", "hybrid"] = "hybrid"
    celebrity_threshold: Positive = 10_000
    timeline_size: Annotated[int, Meta(ge=10, le=10_000)] = 500
    inactive_days: Positive = 30
    backfill_posts: Annotated[int, Meta(ge=0, le=500)] = 20
    fanout_batch: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    background_jobs: bool = True


class RealtimeConfig(_Section):
    max_frame_bytes: Annotated[int, Meta(ge=256)] = 16 * 1024
    send_queue_frames: Positive = 256
    frames_per_second: Positive = 20
    frame_burst: Positive = 40
    heartbeat_seconds: Positive = 25
    idle_timeout_seconds: Positive = 75
    max_sockets_per_user: Positive = 16
    # Websocket handshakes per client address (Litestar's HTTP limits do not see them):
    # generous for many people behind one address, tight for a reconnect flood.
    handshakes_per_address_per_minute: Positive = 300


class MessagesConfig(_Section):
    max_participants: Annotated[int, Meta(ge=2, le=32)] = 32
    max_text_chars: Annotated[int, Meta(ge=1, le=2000)] = 2000


class NotificationsConfig(_Section):
    group_window_hours: Positive = 24


class StoriesConfig(_Section):
    lifetime_hours: Annotated[int, Meta(ge=1, le=168)] = 24
    tray_size: Annotated[int, Meta(ge=1, le=500)] = 100


class SearchConfig(_Section):
    max_query_chars: Annotated[int, Meta(ge=1, le=200)] = 64
    results_per_kind: Annotated[int, Meta(ge=1, le=50)] = 10


class RankerConfig(_Section):
    model: Literal["learned", "recency"] = "learned"
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = 0.05
    l2: Annotated[float, Meta(ge=0, le=1)] = 0.0001
    label_window_minutes: Positive = 30
    retrain_minutes: Positive = 60
    max_examples: Annotated[int, Meta(ge=100)] = 200_000
    background_jobs: bool = True


class ModerationConfig(_Section):
    spam_threshold: Annotated[float, Meta(gt=0, lt=1)] = 0.9
    spam_rate_per_minute: Positive = 10
    blocklist_distance: Annotated[int, Meta(ge=0, le=32)] = 6


class EdgeConfig(_Section):
    """`python -m instamini edge`: the caching proxy in front of one or more instances; and in a
    cluster, each instance's in-process cache of the media other instances hold (`in_process_max_size`,
    with the memory and timeout settings below)."""

    origins: list[OriginUrl] = field(default_factory=lambda: ["http://127.0.0.1:8000"])
    host: str = "127.0.0.1"
    port: Port = 8080
    cache_dir: str = "data/edge-cache"
    max_size: SizeText = "1G"
    in_process_max_size: SizeText = "1G"
    memory_mb: Annotated[int, Meta(ge=0)] = 64
    memory_file_kb: Annotated[int, Meta(ge=1, le=1024)] = 256
    origin_timeout_seconds: Annotated[float, Meta(gt=0)] = 10.0
    origin_connect_timeout_seconds: Annotated[float, Meta(gt=0)] = 2.0
    # Which origin owns which shards ({"http://10.0.0.2:8000" = "3-5"}): a request whose session
    # token names a shard goes to its owner first (edge/routing.py). Empty: origins in turn.
    shard_owners: dict[str, str] = field(default_factory=dict)

    @property
    def max_bytes(self) -> int:
        return parse_size(self.max_size)

    @property
    def in_process_max_bytes(self) -> int:
        return parse_size(self.in_process_max_size)


class ClusterInstanceConfig(_Section):
    name: str
    url: OriginUrl
    shards: str = ""  # ranges of logical shards it owns: "0-3,8", or "all" for a single instance


class ClusterConfig(_Section):
    """`[cluster]`: this instance's place in the shard map; instamini/cluster/ checks the map."""

    instance: str = "main"
    instances: list[ClusterInstanceConfig] = field(
        default_factory=lambda: [ClusterInstanceConfig(name="main", url="http://127.0.0.1:8000", shards="all")]
    )
    secret: str = ""
    rpc_timeout_seconds: Annotated[float, Meta(gt=0)] = 2.0
    rpc_retries: Annotated[int, Meta(ge=0, le=10)] = 2
    rpc_backoff_ms: Annotated[int, Meta(ge=0)] = 25
    max_clock_skew_seconds: Annotated[int, Meta(ge=1, le=3600)] = 30


class PluginsConfig(_Section):
    dirs: list[str] = field(default_factory=lambda: ["plugins"])
    entry_points: bool = True
    disabled: list[str] = field(default_factory=list)


class Config(_Section):
    server: ServerConfig = field(default_factory=ServerConfig)
    modules: ModulesConfig = field(default_factory=ModulesConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    blobs: BlobsConfig = field(default_factory=BlobsConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    posts: PostsConfig = field(default_factory=PostsConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)
    messages: MessagesConfig = field(default_factory=MessagesConfig)
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir)


# A module that needs another cannot be on without it.
MODULE_REQUIRES = {
    "graph": ("accounts",),
    "media": ("accounts",),
    "posts": ("accounts", "graph", "media"),
    "ranker": ("posts",),
    "feed": ("posts",),
    "realtime": ("accounts",),
    "messages": ("realtime", "graph", "posts"),
    "notifications": ("realtime", "posts"),
    "stories": ("media", "graph"),
    "search": ("posts",),
    "explore": ("feed",),
    "moderation": ("accounts", "graph", "posts"),
}


CLUSTER_SECRET_VARIABLE = "INSTAMINI_CLUSTER_SECRET"
MIN_CLUSTER_SECRET_CHARS = 16


def checked_cluster(config: Config, source: str) -> Config:
    """The config with [cluster] checked, its secret taken from INSTAMINI_CLUSTER_SECRET when that is set
    (so that the secret need not be in the file): every shard owned by exactly one listed instance."""
    from .cluster.errors import TopologyError  # the map's rules live with the map
    from .cluster.topology import Topology

    cluster = config.cluster
    try:
        Topology.from_config(cluster, config.meta.shards)
    except TopologyError as error:
        raise ConfigError(f"{source}: {error}") from None
    secret = os.environ.get(CLUSTER_SECRET_VARIABLE) or cluster.secret
    if len(cluster.instances) > 1 and not secret:
        raise ConfigError(
            f"{source}: cluster.secret is required with more than one instance (or set {CLUSTER_SECRET_VARIABLE})"
        )
    if secret and len(secret) < MIN_CLUSTER_SECRET_CHARS:
        raise ConfigError(f"{source}: cluster.secret must be at least {MIN_CLUSTER_SECRET_CHARS} characters")
    return msgspec.structs.replace(config, cluster=msgspec.structs.replace(cluster, secret=secret))


def decode_config(text: bytes | str, source: str = "<string>", base_dir: str = ".") -> Config:
    """Decode TOML text into a Config, or raise ConfigError naming the key and the source."""
    try:
        config = msgspec.toml.decode(text, type=Config)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{source}: {error}") from None
    except msgspec.DecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    for module, needs in MODULE_REQUIRES.items():
        for need in needs:
            if getattr(config.modules, module) and not getattr(config.modules, need):
                raise ConfigError(f"{source}: modules.{module} needs modules.{need} = true")
    config = checked_cluster(config, source)
    for entry in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError(f"{source}: server.trusted_proxies: {entry!r} is not an address or a network") from None
    # Relative paths in the file are relative to the file, not to where we were started.
    base = Path(base_dir)
    server = msgspec.structs.replace(config.server, data_dir=str(base / config.server.data_dir))
    plugins = msgspec.structs.replace(config.plugins, dirs=[str(base / d) for d in config.plugins.dirs])
    edge = msgspec.structs.replace(config.edge, cache_dir=str(base / config.edge.cache_dir))
    return msgspec.structs.replace(config, server=server, plugins=plugins, edge=edge)


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the config file that `path`, INSTAMINI_CONFIG or ./config.toml names."""
    chosen = path or os.environ.get("INSTAMINI_CONFIG")
    if chosen is None:
        default = Path("config.toml")
        if not default.exists():
            return Config()
        chosen = default
    file = Path(chosen)
    try:
        text = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{file}: cannot read config file: {error.strerror}") from None
    return decode_config(text, source=str(file), base_dir=str(file.resolve().parent))


def with_overrides(config: Config, **server_fields) -> Config:
    """A copy of config with [server] fields replaced (command-line flags win over the file)."""
    given = {name: value for name, value in server_fields.items() if value is not None}
    if not given:
        return config
    return msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, **given))
