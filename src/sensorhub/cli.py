"""The ``sensorhub`` command. Each subcommand lives in its own module, which supplies
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them. A module with
several commands names an object per command (``module:object``) that supplies the same, with
its description as ``__doc__``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from sensorhub import __version__

_RAW = argparse.RawDescriptionHelpFormatter

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "sensorhub.commands.serve",
        "classify live events from an MQTT broker and publish pages",
    ),
    "fallback": (
        "sensorhub.commands.fallback",
        "while sensorhub is down, page every conventional alarm unfiltered (the safety net)",
    ),
    "replay": (
        "sensorhub.commands.replay",
        "classify a recording offline, in event time, and write pages",
    ),
    "demo": ("sensorhub.commands.demo", "stream a simulated ward night through a private broker"),
    "convert": ("sensorhub.commands.convert", "convert a recording between JSONL and Parquet"),
    "evaluate": (
        "sensorhub.commands.evaluate",
        "measure pages against a site's ground truth and census",
    ),
    "mute": (
        "sensorhub.commands.mute:mute",
        "mute a room or device for maintenance (calls still page)",
    ),
    "unmute": ("sensorhub.commands.mute:unmute", "lift a silence before it ends"),
    "silences": ("sensorhub.commands.mute:silences", "list the silences in force"),
    "reload": ("sensorhub.commands.reload", "have a running serve read its rule file again"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorhub",
        description="Filters care-home sensor alarms at night: pages staff only when a person "
        "needs to go to a room.",
    )
    parser.add_argument("--version", action="version", version=f"sensorhub {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log on stderr (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (spec, help_text) in COMMANDS.items():
        module_name, _, attribute = spec.partition(":")
        module = importlib.import_module(module_name)
        target = getattr(module, attribute) if attribute else module
        command = sub.add_parser(
            name, help=help_text, description=target.__doc__, formatter_class=_RAW
        )
        target.add_arguments(command)
        command.set_defaults(run=target.run)
    rules = sub.add_parser(
        "rules", help="work with rule files", description="Work with rule files."
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check_module = importlib.import_module("sensorhub.commands.rules")
    check = rules_sub.add_parser(
        "check",
        help="check a rule file and report each mistake",
        description=check_module.__doc__,
        formatter_class=_RAW,
    )
    check_module.add_arguments(check)
    check.set_defaults(run=check_module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
