"""Command line: `aether serve|doctor|sources [options]`, `aether token`. Every option also
reads an AETHER_* variable."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aether import __version__, memory
from aether.access.tokens import Role, mint, parse_expiry
from aether.config import SETTINGS, Config, load_config_with_sources, redact_url
from aether.configfile import config_path_hint, find_config_file, read_config_file
from aether.errors import AetherError
from aether.logsetup import setup_logging

log = logging.getLogger("aether")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aether",
        description="Low-latency screen and audio streaming to any browser over WebRTC.",
    )
    parser.add_argument("--version", action="version", version=f"aether {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="capture, encode and serve the stream",
        description="Capture, encode once and serve the stream to browsers over WebRTC. "
        "Each option can also be set with the environment variable shown.",
    )
    add_settings(serve)
    for name, text in (
        ("doctor", "check that everything `serve` needs works here, with the fix for what fails"),
        ("sources", "list monitors, audio sources, cameras and usable encoders"),
        ("config", "print the effective configuration and where each value comes from"),
    ):
        command = commands.add_parser(
            name, help=text, description=text[0].upper() + text[1:] + ". Takes the options "
            "of `serve`, so it checks the configuration that would be served."
        )  # fmt: skip
        command.add_argument("--json", action="store_true", help="machine-readable output")
        add_settings(command)
    for command in (serve, *(commands.choices[n] for n in ("doctor", "sources", "config"))):
        command.add_argument(
            "--config",
            metavar="PATH",
            default=None,
            help="TOML config file [env AETHER_CONFIG; default: "
            f"{config_path_hint(os.environ)}, if present]",
        )
    install = commands.add_parser(
        "install-service",
        help="write a systemd unit that runs `aether serve`",
        description="Write a systemd unit (Type=notify, restart on failure, watchdog while "
        "frames flow) and print how to enable it. Options after `--` go to `aether serve`.",
    )
    uninstall = commands.add_parser("uninstall-service", help="remove the systemd unit")
    for command in (install, uninstall):
        scope = command.add_mutually_exclusive_group()
        scope.add_argument(
            "--user",
            dest="scope",
            action="store_const",
            const="user",
            help="a user service for a desktop session (the default)",
        )
        scope.add_argument("--system", dest="scope", action="store_const", const="system",
                           help="a system service for a headless box")  # fmt: skip
    install.add_argument("--config", metavar="PATH", help="TOML config file for the service")
    install.add_argument("--as", dest="run_as", metavar="USER", help="system service: run as USER")
    install.add_argument("serve_args", nargs=argparse.REMAINDER, help="-- then serve options")
    token = commands.add_parser(
        "token",
        help="mint a new access token",
        description="Print a new random access token and the entry to add to --tokens, "
        "AETHER_TOKENS or a --token-file.",
    )
    token.add_argument("--role", choices=("view", "admin"), default="view")
    token.add_argument(
        "--expires", metavar="WHEN", help="expiry: a duration (30m, 12h, 7d) or an ISO date/time"
    )
    return parser


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per setting, with its environment variable and default in the help."""
    defaults = Config()
    for setting in SETTINGS:
        default = getattr(defaults, setting.field)
        if isinstance(default, tuple):
            default = ",".join(default) or "none"
        env = setting.env + (f" or {setting.env_fallback}" if setting.env_fallback else "")
        parser.add_argument(
            setting.flag,
            *setting.aliases,
            dest=setting.field,
            metavar=setting.metavar or setting.field.upper(),
            default=None,
            help=f"{setting.help} [env {env}; default {default}]",
        )


def parse_when(text: str, now: datetime) -> datetime:
    """`30m`, `12h`, `7d` from now, or an ISO 8601 date/time (UTC unless it says)."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        try:
            return now + timedelta(seconds=int(text[:-1]) * units[text[-1]])
        except OverflowError:
            raise ValueError("a duration that ends before the year 9999") from None
    return parse_expiry(text)


def mint_token(role: str, expires: str | None) -> int:
    try:
        when = parse_when(expires, datetime.now(UTC)) if expires else None
    except ValueError as exc:
        print(f"aether: invalid --expires={expires!r}: expected 30m, 12h, 7d or {exc}",
              file=sys.stderr)  # fmt: skip
        return 2
    token = mint(Role.parse(role), when)
    print(token.entry())
    print(f"# add the line above to --tokens / AETHER_TOKENS / a --token-file; viewers open "
          f"http://HOST:PORT/#token={token.secret}", file=sys.stderr)  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "token":
        return mint_token(args.role, args.expires)
    if args.command in ("install-service", "uninstall-service"):
        return manage_service(args)
    if args.command not in ("serve", "doctor", "sources", "config"):
        parser.print_help()
        return 2
    flags = {s.field: getattr(args, s.field) for s in SETTINGS}
    try:
        path = find_config_file(args.config, os.environ)
        known = {s.field for s in SETTINGS}
        file = read_config_file(path, known) if path else None
        config, sources = load_config_with_sources(flags, os.environ, file)
    except AetherError as exc:
        print(f"aether: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(show_config(config, sources, path, as_json=args.json))
        return 0
    if args.command in ("doctor", "sources"):
        setup_logging("warn", config.log_format)  # the report is the output
        return examine(args.command, config, as_json=args.json)
    setup_logging(config.log, config.log_format)
    memory.limit_arenas()
    try:
        known = {s.field for s in SETTINGS}

        def reread() -> Config:
            file = read_config_file(path, known) if path else None
            return load_config_with_sources(flags, os.environ, file)[0]

        return asyncio.run(_serve(config, reread))
    except AetherError as exc:  # StartupError carries its fix in str(exc)
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - SIGINT before handlers are installed
        return 130


def manage_service(args: argparse.Namespace) -> int:
    from aether.service import unit

    user = args.scope != "system"
    try:
        if args.command == "uninstall-service":
            removed = unit.uninstall(user)
            print(f"removed {removed}" if removed else "no unit installed", file=sys.stderr)
            return 0
        serve_args = [a for a in args.serve_args if a != "--"]
        plan = unit.plan(user, serve_args, args.config, args.run_as)
        unit.install(plan)
    except OSError as exc:
        print(f"aether: cannot write the unit: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {plan.path}\nenable and start it with:\n  {plan.enable}", file=sys.stderr)
    if not user and not args.run_as:
        print("note: it runs as root; pass --as USER to run it as a user", file=sys.stderr)
    return 0


def show_config(config: Config, sources: dict[str, str], path: Any, as_json: bool) -> str:
    """Every setting, its effective value (secrets masked) and where it came from."""
    rows = []
    for setting in SETTINGS:
        value: Any = getattr(config, setting.field)
        if setting.field == "tokens":
            value = [f"{t.role}:***" for t in value]
        elif setting.field == "url" and value:
            value = redact_url(value)
        elif setting.mask is not None and value is not None:
            value = setting.mask(value)
        elif isinstance(value, tuple):
            value = [str(v) for v in value]
        elif value is not None and not isinstance(value, bool | int | float | str):
            value = str(value)
        rows.append({"setting": setting.field, "value": value, "from": sources[setting.field]})
    if as_json:
        return json.dumps({"file": str(path) if path else None, "settings": rows}, indent=1)
    width = max(len(r["setting"]) for r in rows)
    lines = [f"# config file: {path or 'none found'}"]
    for r in rows:
        value = r["value"]
        shown = (",".join(value) or "none") if isinstance(value, list) else value
        lines.append(f"{r['setting']:{width}} = {shown}    # {r['from']}")
    return "\n".join(lines)


def examine(command: str, config: Config, as_json: bool) -> int:
    from aether import doctor  # imports GStreamer

    if command == "sources":
        data = doctor.inventory(config)
        print(json.dumps(data, indent=1) if as_json else doctor.format_inventory(data))
        return 0
    code, checks = doctor.doctor(config)
    if as_json:
        report = {"ok": code == 0, "checks": [dataclasses.asdict(c) for c in checks]}
        print(json.dumps(report, indent=1))
    else:
        print(doctor.format_checks(checks))
    return code


async def _serve(config: Config, reread: Callable[[], Config]) -> int:
    from aether.server import serve  # imports GStreamer; keep --help fast and light

    return await serve(config, reread)
