"""The ``alignguard`` command line, generated from typed Python functions.

Each command is a plain function with type-hinted keyword arguments and a Google-style
docstring; :func:`build_parser` turns its signature into ``argparse`` options (``lam_A`` becomes
``--lam-A``, ``bool`` becomes ``--flag/--no-flag``, ``list[str]`` takes comma-separated values)
and its ``Args:`` section into help text. Commands are registered lazily by import path so that
``alignguard --help`` stays fast and importing this module has no side effects.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

# command name (words separated by spaces) -> "module:function"
COMMANDS: dict[str, str] = {
    "demo": "alignguard.demo:demo_command",
    "train": "alignguard.train_cli:train_command",
    "fisher": "alignguard.fisher:fisher_command",
    "drift": "alignguard.drift.cli:drift_command",
    "judge": "alignguard.drift.cli:judge_command",
    "organism build": "alignguard.organism.build:build_command",
    "organism eval": "alignguard.organism.evaluate:eval_command",
    "scaling sweep": "alignguard.scaling.sweep:sweep_command",
    "scaling fit": "alignguard.scaling.fit:fit_command",
    "align": "alignguard.align:align_command",
}


def _docstring_parts(fn: Callable) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n")[0].strip()
    helps: dict[str, str] = {}
    m = re.search(r"^Args:\n(.*?)(?:^\S|\Z)", doc, flags=re.S | re.M)
    if m:
        current = None
        for line in m.group(1).splitlines():
            hit = re.match(r"\s{2,4}(\w+)(?: \(.*?\))?:\s*(.*)", line)
            if hit:
                current = hit.group(1)
                helps[current] = hit.group(2)
            elif current and line.strip():
                helps[current] += " " + line.strip()
    return summary, helps


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def _comma_list(item_type: Callable[[str], Any]) -> Callable[[str], list]:
    return lambda text: [item_type(x) for x in text.split(",") if x.strip()]


def add_function_arguments(parser: argparse.ArgumentParser, fn: Callable) -> None:
    """Add one option per keyword parameter of ``fn`` (type from its annotation)."""
    hints = typing.get_type_hints(fn)
    _, helps = _docstring_parts(fn)
    for name, param in inspect.signature(fn).parameters.items():
        tp, _ = _base_type(hints.get(name, str))
        flag = "--" + name.rstrip("_").replace("_", "-")  # json_ -> --json (PEP 8 trailing _)
        default = None if param.default is inspect.Parameter.empty else param.default
        kwargs: dict[str, Any] = {"dest": name, "help": helps.get(name, "").replace("%", "%%")}
        if param.default is inspect.Parameter.empty:
            kwargs["required"] = True
        else:
            kwargs["help"] += f" (default: {default})".replace("%", "%%")
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kwargs)
            continue
        if typing.get_origin(tp) in (list, tuple):
            item = (typing.get_args(tp) or (str,))[0]
            kwargs["type"] = _comma_list(item if item in (int, float) else str)
        elif tp in (int, float):
            kwargs["type"] = tp
        parser.add_argument(flag, default=default, **kwargs)


def build_parser(commands: dict[str, str] = COMMANDS) -> argparse.ArgumentParser:
    """The full parser; each command's options come from its function signature."""
    from alignguard import __version__

    parser = argparse.ArgumentParser(
        prog="alignguard", description="Alignment-preserving LoRA fine-tuning (AlignGuard-LoRA)."
    )
    parser.add_argument("--version", action="version", version=f"alignguard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, target in commands.items():
        words = name.split()
        sub_root = subs
        if len(words) == 2:
            if words[0] not in groups:
                group = subs.add_parser(words[0], help=f"{words[0]} commands")
                groups[words[0]] = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
            sub_root = groups[words[0]]
        try:
            fn = _resolve(target)
        except (ImportError, AttributeError):
            continue  # a command whose module is not present in this build
        summary, _ = _docstring_parts(fn)
        summary = summary.replace("%", "%%")
        cmd = sub_root.add_parser(words[-1], help=summary, description=summary)
        add_function_arguments(cmd, fn)
        cmd.set_defaults(_fn=fn)
    return parser


def _resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alignguard`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    fn = getattr(args, "_fn", None)
    if fn is None:
        parser.print_help()
        return 2
    kwargs = {k: v for k, v in vars(args).items() if k not in ("_fn", "command", "subcommand", "verbose")}
    try:
        result = fn(**kwargs)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        if args.verbose:
            raise
        print(f"alignguard: error: {exc}", file=sys.stderr)
        return 1
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
