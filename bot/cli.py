"""`qunbot` command line: run, check-config, try, why, user, demo, and each capability's commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import DEFAULT_CONFIG, Settings, load_settings
from bot.settings_loader import ConfigError
from bot.store import Store, StoreError


class CliContext:
    """What a subcommand handler gets: parsed args, settings, and a store opened on demand."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.args.config)
        return self._settings

    def store(self) -> Store:
        """The configured database, migrated and (with demo = true) seeded when empty."""
        if self._store is None:
            from bot.demo import seed_if_empty

            self._store = Store(self.settings.database_path)
            seed_if_empty(self._store, self.settings)
        return self._store

    def adapters(self) -> dict[str, Any]:
        """The enabled adapters, built but not started (their capabilities and limits)."""
        from bot.adapters.registry import build_adapters

        return dict(build_adapters(self.settings))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Print JSON with --json, otherwise the human text."""
        if getattr(self.args, "json", False):
            print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        else:
            print(text() if callable(text) else text)


Handler = Callable[[CliContext], int]


def build_parser() -> argparse.ArgumentParser:
    from bot import cli_commands, reports_cli, wecom_contact_cli
    from broadcasts import cli as broadcasts_cli
    from intents import cli as faq_cli
    from keywords import cli as keywords_cli
    from members import cli as members_cli
    from moderation import cli as moderation_cli
    from schedules import cli as schedules_cli

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default ./config.toml)")
    parser = argparse.ArgumentParser(
        prog="qunbot", description="Self-hosted group-chat assistant for community operations.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"qunbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # every subcommand also accepts --config after its name
    # SUPPRESS: a subparser's default must not overwrite a --config given before the command name
    sub_common = argparse.ArgumentParser(add_help=False)
    sub_common.add_argument("--config", default=argparse.SUPPRESS, help="config file (default ./config.toml)")
    set_common_parent(sub, sub_common)
    cli_commands.register(sub)
    reports_cli.register(sub)
    wecom_contact_cli.register(sub)
    for module in (keywords_cli, faq_cli, moderation_cli, schedules_cli, broadcasts_cli, members_cli):
        module.register(sub)
    return parser


def set_common_parent(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Keep on `sub` the parser whose options (--config) each of its subcommands also takes."""
    vars(sub)["common_parent"] = parent


def common_parent(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The parser given to `set_common_parent` for `sub` (or for the group it was nested in)."""
    return vars(sub)["common_parent"]


def add_command(sub: argparse._SubParsersAction, name: str, handler: Handler, help: str, *,
                json_flag: bool = False) -> argparse.ArgumentParser:
    """Register a subcommand with the shared --config option (and --json if it prints results)."""
    parser = sub.add_parser(name, help=help, description=help, parents=[common_parent(sub)])
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = CliContext(args)
    try:
        return int(args.func(ctx) or 0)
    except ConfigError as exc:
        print_config_errors(exc)
        return 2
    except StoreError as exc:
        print(f"数据库错误 / database error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`qunbot … | head`): stop quietly, as `cat` would
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    finally:
        ctx.close()


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    finally:
        os.close(devnull)


def config_error_lines(exc: ConfigError) -> list[str]:
    """One `<file>: <key.path>: <原因>` line per mistake, then the count."""
    errors = exc.errors
    return [e.line() for e in errors] + [f"共 {len(errors)} 处错误"]


def config_error_json(exc: ConfigError) -> dict[str, Any]:
    """What check-config --json prints for a bad file: {"ok": false, "errors": [{file, key, reason}]}."""
    return {"ok": False, "errors": [{"file": e.path, "key": e.key, "reason": e.reason} for e in exc.errors]}


def print_config_errors(exc: ConfigError, file: Any = None) -> None:
    """What `run`, `check-config` and every other command print when the config has mistakes."""
    out = file if file is not None else sys.stderr
    print("配置错误 / config error:", file=out)
    for line in config_error_lines(exc):
        print(line, file=out)


def now_utc() -> datetime:
    return datetime.now(UTC)


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    return path


if __name__ == "__main__":
    sys.exit(main())
