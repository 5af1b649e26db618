"""The ``sensorhub`` command. Each subcommand lives in its own module, which supplies
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them. A module with
several commands names an object per command (``module:object``) that supplies the same, with
its description as ``__doc__``.

A command line imports only the module of the command it names: ``sensorhub --help`` lists the
commands from the one-line helps below and imports none of them, and ``sensorhub silences``
does not import the compiled classifier (numba), pyarrow or matplotlib, which only some
commands use. Each command's module imports at its top only what every run of it needs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final

from sensorhub import __version__

_RAW = argparse.RawDescriptionHelpFormatter

#: subcommand -> (module, one-line help)
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "serve": (
        "sensorhub.commands.serve_cli",
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
    "board": (
        "sensorhub.commands.board",
        "the ward board: open incidents, pages and acknowledgements per site on a web page",
    ),
    "demo": ("sensorhub.commands.demo", "stream a simulated ward night through a private broker"),
    "convert": ("sensorhub.commands.convert", "convert a recording between JSONL and Parquet"),
    "evaluate": (
        "sensorhub.commands.evaluate",
        "measure pages against a site's ground truth and census",
    ),
    "sweep": (
        "sensorhub.commands.sweep",
        "replay recordings over a grid of rule parameters and score each set",
    ),
    "mute": (
        "sensorhub.commands.mute:mute",
        "mute a room or device for maintenance (calls still page)",
    ),
    "unmute": ("sensorhub.commands.mute:unmute", "lift a silence before it ends"),
    "silences": ("sensorhub.commands.mute:silences", "list the silences in force"),
    "devices": (
        "sensorhub.commands.devices",
        "list every device the store knows: last heard, battery, faults in 30 days",
    ),
    "incidents": (
        "sensorhub.commands.incidents",
        "list open incidents and last night's: who was paged, acknowledged, what comes next",
    ),
    "reload": ("sensorhub.commands.reload", "have a running serve read its rule file again"),
    "purge": (
        "sensorhub.commands.purge",
        "remove one room's history from the store (a resident leaves)",
    ),
}

#: ``sensorhub rules ACTION``: action -> (module, one-line help)
RULES_ACTIONS: Final[dict[str, tuple[str, str]]] = {
    "check": ("sensorhub.commands.rules", "check a rule file and report each mistake"),
    "compare": (
        "sensorhub.commands.compare",
        "replay recordings through two rule files and show every page that differs, and why",
    ),
}

#: The options of ``sensorhub`` itself (before the command) that take a value.
_VALUE_OPTIONS: Final = ("--log-level",)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for the command line ``argv``: the command it names in full (its module
    imported), every other command by its one-line help only, enough for ``--help`` to list
    it. With ``argv`` None, every command in full."""
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
    every = argv is None
    named, rest = (None, []) if argv is None else _named(argv, _VALUE_OPTIONS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_commands(sub, COMMANDS, every or named)
    rules = sub.add_parser(
        "rules", help="work with rule files", description="Work with rule files."
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    action = _named(rest, ())[0] if named == "rules" else None
    _add_commands(rules_sub, RULES_ACTIONS, every or action)
    return parser


def _add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    commands: Mapping[str, tuple[str, str]],
    full: str | bool | None,
) -> None:
    """Add ``commands`` to ``sub``: in full the one named ``full`` (every one if True), the
    others by name and help only (argparse lists them; they are never parsed: only a command
    line that names one gets here, and then that one is in full)."""
    for name, (spec, help_text) in commands.items():
        if full is not True and name != full:
            sub.add_parser(name, help=help_text)
            continue
        module_name, _, attribute = spec.partition(":")
        module = importlib.import_module(module_name)
        target = getattr(module, attribute) if attribute else module
        command = sub.add_parser(
            name, help=help_text, description=target.__doc__, formatter_class=_RAW
        )
        target.add_arguments(command)
        command.set_defaults(run=target.run)


def _named(argv: Sequence[str], value_options: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first positional argument of ``argv`` and what follows it, as argparse finds it
    (options first, ``value_options`` with their value, possibly abbreviated or as
    ``--option=value``); (None, []) if there is none."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--":
            return (argv[i + 1], list(argv[i + 2 :])) if i + 1 < len(argv) else (None, [])
        elif arg.startswith("-") and arg != "-":
            skip = "=" not in arg and any(
                option.startswith(arg) for option in value_options if arg.startswith("--")
            )
        else:
            return arg, list(argv[i + 1 :])
    return None, []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` and return its exit status.

    ``argv`` None: this process's own command line, as the ``sensorhub`` script and ``python -m
    sensorhub`` run it. The process ends with the command then, and two costs of the garbage
    collector are spared (see ``_collector_spared``)."""
    if argv is not None:
        return _run(build_parser(argv), argv)
    argv = sys.argv[1:]
    with _collector_spared():
        parser = build_parser(argv)
    try:
        return _run(parser, argv)
    finally:
        # what is left at the exit is collected once here, not walked again and again while the
        # interpreter takes its modules apart
        gc.collect()
        gc.freeze()


@contextmanager
def _collector_spared() -> Iterator[None]:
    """No garbage collection while the command's modules are imported; what they made frozen
    after (``gc.freeze``: never collected, never walked again), and the collector on as usual.

    The imports of a command that classifies (numba above all) make some 140,000 objects that
    live as long as the process: the collector walked them again and again as they were made
    (its full collections grow with the heap) and again while the interpreter exits, a third
    of the cpu time of a short ``replay``. Cycles among them that are garbage already (about a
    thousand objects) stay."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _run(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
