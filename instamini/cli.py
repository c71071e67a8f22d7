"""The command line: `python -m instamini [serve|bench] ...`; serve is the default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, load_config, with_overrides


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
    bench.add_argument("scenario", nargs="?", default="foundation", choices=["foundation", "media"])
    bench.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    bench.add_argument("--out", help="write the JSON report here")
    bench.add_argument("--config", help="config file for the server under test")
    return parser


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

        return run_bench(config, scenario=options.scenario, seconds=options.seconds, out=options.out)
    data_dir = str(Path(options.data_dir).resolve()) if options.data_dir else None
    config = with_overrides(config, host=options.host, port=options.port, data_dir=data_dir)
    from .server import serve

    serve(config, reload=options.reload, config_file=Path(options.config) if options.config else None)
    return 0
