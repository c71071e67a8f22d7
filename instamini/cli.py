"""The command line: `python -m instamini [serve|bench|demo|admin|edge|cluster] ...`; serve is the default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, load_config, with_overrides
from .cluster.move_cli import add_move_shard_command, run_move_shard
from .stores.backup_cli import add_backup_commands, run_backup_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m instamini", description="A self-hosted photo network.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from config: 8000)")
    serve.add_argument("--data-dir", help="where the data lives (default: ./data)")
    serve.add_argument("--config", help="config file (default: $INSTAMINI_CONFIG or ./config.toml)")
    serve.add_argument("--reload", action="store_true", help="restart on changes to code, plugins or config")
    bench = commands.add_parser("bench", help="measure throughput of a running or fresh server")
    bench.add_argument("scenario", nargs="?", default="foundation", choices=["foundation", "media", "feed", "realtime"])
    bench.add_argument("--seconds", type=float, help="length of each measured phase (default 5; realtime: 10)")
    bench.add_argument("--out", help="write the JSON report here")
    bench.add_argument("--config", help="config file for the server under test")
    _feed_bench_options(bench)
    _realtime_bench_options(bench)
    demo = commands.add_parser("demo", help="seed an empty instance with a realistic synthetic network (server stopped)")
    demo.add_argument("--users", type=int, required=True, help="how many accounts (a few celebrities among them)")
    demo.add_argument("--data-dir", help="the data directory to seed (default from config: ./data)")
    demo.add_argument("--config", help="config file (default: $INSTAMINI_CONFIG or ./config.toml)")
    demo.add_argument("--seed", type=int, default=1, help="random seed: the same seed makes the same network")
    demo.add_argument("--posts-per-user", type=float, default=3.0, help="average posts per account (skewed)")
    demo.add_argument(
        "--spare-media", type=int, default=0, metavar="M", help="M ready, unposted images per account, for benchmarks"
    )
    demo.add_argument("--tokens-out", metavar="FILE", help='also log everyone in; write {"username": token} JSON here')
    admin = commands.add_parser("admin", help="manage admins (server stopped), back up and restore, move shards")
    admin_commands = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    create = admin_commands.add_parser("create", help="register an account and make it admin (server stopped)")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--data-dir", help="the data directory (default from config: ./data)")
    create.add_argument("--config", help="config file (default: $INSTAMINI_CONFIG or ./config.toml)")
    add_backup_commands(admin_commands)
    add_move_shard_command(admin_commands)
    _edge_command(commands)
    cluster = commands.add_parser("cluster", help="start N instances and an edge on loopback, for demos and tests")
    cluster.add_argument("--instances", type=int, default=3, help="how many instances (default 3)")
    cluster.add_argument("--shards", type=int, default=8, help="logical shards, split among them (default 8)")
    cluster.add_argument("--root", default="cluster-data", help="their configs and data directories (default ./cluster-data)")
    cluster.add_argument("--base-port", type=int, default=8001, help="instance i listens on base+i, the edge after them")
    cluster.set_defaults(config=None)  # each instance gets a config file of its own, written under --root
    return parser


FEED_OPTIONS = ("users", "rate", "strategy", "url", "tokens", "media", "seed", "arrivals", "warmup", "closed_seconds",
                "celebrity_threshold")
REALTIME_OPTIONS = ("users", "sockets", "rate", "seed", "arrivals", "likes", "hold")
SCENARIO_OPTIONS = {"feed": FEED_OPTIONS, "realtime": REALTIME_OPTIONS}
SCENARIO_SECONDS = {"realtime": 10.0}  # --seconds when not given; 5 for the others


def _feed_bench_options(bench: argparse.ArgumentParser) -> None:
    """The feed scenario's own options; each defaults to None so that run() keeps its defaults."""
    feed = bench.add_argument_group("feed scenario (open-loop mix: 60% feed reads, 30% profile grids, 10% posts)")
    feed.add_argument("--users", type=int, help="people to seed (default 2000; realtime too)")
    feed.add_argument(
        "--rate", type=float, help="requests per second offered, whatever the answers (default 1000; realtime: messages/s, 2000)"
    )
    feed.add_argument("--strategy", help="comma-separated feed strategies to run in turn (default push,pull,hybrid)")
    feed.add_argument("--url", help="measure this running server instead of a freshly seeded one (needs --tokens)")
    feed.add_argument("--tokens", help="with --url: JSON {username: session token}, as `demo --tokens-out` writes")
    feed.add_argument("--media", help="with --url: JSON {username: [spare media ids]}, so that the mix can post")
    feed.add_argument("--seed", type=int, help="seed of the network, the arrivals and the mix (default 1)")
    feed.add_argument("--arrivals", choices=["poisson", "uniform"], help="gaps between requests (default poisson)")
    feed.add_argument("--warmup", type=float, help="seconds of reads before each measured phase (default 2)")
    feed.add_argument("--closed-seconds", type=float, help="length of each wrk phase (default min(seconds, 5))")
    feed.add_argument("--celebrity-threshold", type=int, help="hybrid pulls accounts above this (default: top 0.1%%)")


def _realtime_bench_options(bench: argparse.ArgumentParser) -> None:
    """The realtime scenario's own options (it shares --users, --rate, --seed and --arrivals with feed)."""
    realtime = bench.add_argument_group("realtime scenario (sockets held open, message delivery, like -> notification)")
    realtime.add_argument("--sockets", type=int, help="sockets to open and hold on the one server (default 10000)")
    realtime.add_argument("--likes", type=int, help="likes timed to their notification frame (default 200)")
    realtime.add_argument("--hold", type=float, help="seconds to hold the sockets open, answering pings (default 10)")


def _edge_command(commands) -> None:
    """`edge`: its settings default to config.toml's [edge] section; see instamini/edge/cli.py."""
    edge = commands.add_parser("edge", help="run the edge cache: a caching proxy (the CDN) for /media in front of instances")
    edge.add_argument(
        "--origin", action="append", metavar="URL",
        help="an instance to fetch from, http://host:port; repeat it for failover (default from config: http://127.0.0.1:8000)",
    )
    edge.add_argument(
        "--shards", action="append", metavar="URL=RANGES",
        help="the shards an origin owns (http://host:port=0-3); a request whose session names one goes there first",
    )
    edge.add_argument("--cache-dir", metavar="DIR", help="where cached files live (default from config: ./data/edge-cache)")
    edge.add_argument("--max-size", metavar="SIZE", help="bound on the cached files: bytes, or 512M, 2G ... (default from config: 1G)")
    edge.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    edge.add_argument("--port", type=int, help="port to listen on (default from config: 8080)")
    edge.add_argument("--config", help="config file (default: $INSTAMINI_CONFIG or ./config.toml)")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-") and args[0] not in ("-h", "--help"):
        args.insert(0, "serve")
    options = _parser().parse_args(args)
    try:
        config = load_config(options.config)
    except ConfigError as error:
        print(f"instamini: {error}", file=sys.stderr)
        return 2
    if options.command == "bench":
        from .bench import run_bench

        given = {name for names in SCENARIO_OPTIONS.values() for name in names if getattr(options, name) is not None}
        if refused := sorted(given - set(SCENARIO_OPTIONS.get(options.scenario, ()))):
            print(f"instamini: bench {options.scenario} takes no {', '.join(refused)}", file=sys.stderr)
            return 2
        seconds = options.seconds if options.seconds is not None else SCENARIO_SECONDS.get(options.scenario, 5.0)
        scenario_options = {name: getattr(options, name) for name in given}
        return run_bench(config, scenario=options.scenario, seconds=seconds, out=options.out, options=scenario_options)
    if options.command == "cluster":
        from .cluster.launch import run_cluster

        try:
            return run_cluster(options.instances, Path(options.root).resolve(), shards=options.shards,
                               base_port=options.base_port)
        except ValueError as error:
            print(f"instamini: {error}", file=sys.stderr)
            return 2
    if options.command == "edge":
        from .edge.cli import run_edge

        return run_edge(config, options)
    if options.command == "admin" and options.admin_command == "move-shard":
        return run_move_shard(config, options)  # a client of the running cluster: no data directory
    data_dir = str(Path(options.data_dir).resolve()) if options.data_dir else None
    if options.command == "demo":
        from .demo import DemoOptions, run_demo

        demo = DemoOptions(
            users=options.users,
            seed=options.seed,
            posts_per_user=options.posts_per_user,
            spare_media=options.spare_media,
            tokens_out=options.tokens_out,
        )
        return run_demo(with_overrides(config, data_dir=data_dir), demo)
    if options.command == "admin" and options.admin_command in ("backup", "restore"):
        return run_backup_command(with_overrides(config, data_dir=data_dir), options)
    if options.command == "admin":
        from .moderation.admin_cli import run_admin

        return run_admin(with_overrides(config, data_dir=data_dir), options.username, options.password)
    config = with_overrides(config, host=options.host, port=options.port, data_dir=data_dir)
    from .server import serve

    serve(config, reload=options.reload, config_file=Path(options.config) if options.config else None)
    return 0
