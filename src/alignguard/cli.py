"""The ``alignguard`` command line, generated from typed Python functions and dataclasses.

Each command is a plain function with type-hinted keyword arguments and a Google-style
docstring: its signature becomes ``argparse`` options (``lam_A`` -> ``--lam-A``, ``bool`` ->
``--flag/--no-flag``, ``list[str]`` takes comma-separated values) and its ``Args:`` section the
help. A parameter annotated with a config dataclass (``train: TrainConfig``) becomes one option
per field, nested sections with dots (``--reg.lam-A 3``, ``--lora.r 16``,
``--alignment.data F``), with the field's real default and the help from the dataclass's
``Attributes:``; the given values reach the command as a ``{dotted key: text}`` dict that
:func:`alignguard.config.from_dict` checks and coerces like a YAML file.

Commands load lazily: only the chosen command's module is imported, and one whose import fails
says so. Expected failures (bad files, configs, data; non-finite losses) print one line and exit
1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import logging
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

# command name (words separated by spaces) -> ("module:function", one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("alignguard.demo.cli:demo_command", "the headline experiment on the model organism"),
    "train": ("alignguard.training.cli:train_command", "fine-tune with LoRA and a defense method"),
    "fisher": ("alignguard.alignment.cli:fisher_command", "estimate the alignment Fisher"),
    "drift": ("alignguard.drift.cli:drift_command", "measure alignment drift (DriftCheck)"),
    "drift sample": ("alignguard.drift.cli:sample_command", "draw a drift run's replies for a person to label"),
    "drift correct": ("alignguard.drift.cli:correct_command", "correct a drift run's rates with human labels"),
    "drift agree": ("alignguard.drift.cli:agree_command", "compare two people's labels of a run (Cohen's kappa)"),
    "judge": ("alignguard.drift.cli:judge_command", "label responses as refusals or compliance"),
    "organism build": ("alignguard.organism.cli:build_command", "rebuild the model organism"),
    "organism eval": ("alignguard.organism.cli:eval_command", "evaluate the organism"),
    "scaling sweep": ("alignguard.scaling.cli:sweep_command", "fine-tuning sweep for the scaling law"),
    "scaling fit": ("alignguard.scaling.cli:fit_command", "fit the forgetting scaling law"),
    "align": ("alignguard.align.cli:align_command", "safety-align SmolLM2 (the real-model base)"),
    "align data": ("alignguard.align.cli:data_command", "write alignment data (+ rejected replies)"),
    "compare": ("alignguard.compare.cli:compare_command", "every defense side by side (resumable grid)"),
    "testbed prepare": ("alignguard.testbed.cli:prepare_command", "write a real-model drift scenario's data"),
    "testbed eval": ("alignguard.testbed.cli:eval_command", "evaluate a model on a real-model drift scenario"),
}
# command function -> {parameter: flag prefix} for config dataclasses whose fields would clash
# with the command's own options (compare's --steps vs the training config's --steps)
NAMESPACED: dict[str, dict[str, str]] = {"compare_command": {"train": "train."},
                                          "demo_command": {"reg": "reg."}}
# command function -> {short flag: dotted field}; kept beside the generated dotted options
ALIASES: dict[str, dict[str, str]] = {
    "train_command": {"alignment_data": "alignment.data", "fisher": "alignment.fisher",
                      "lam_A": "reg.lam_A", "lam_D": "reg.lam_D", "lam_T": "reg.lam_T",
                      "lam_NC": "reg.lam_NC", "gate": "reg.gate", "r": "lora.r",
                      "target_modules": "lora.target_modules"},
}


def _doc_section(doc: str, header: str) -> dict[str, str]:
    helps: dict[str, str] = {}
    m = re.search(rf"^\s*{header}:\n(.*?)(?:^\s*\w[\w ]*:\n|\Z)", doc, flags=re.S | re.M)
    if m:
        current = None
        lines = m.group(1).splitlines()
        # entries sit at the section's first indent; deeper lines continue the entry (even when
        # they start with "word:", as in "(the\n    default: ...")
        indent = next((len(x) - len(x.lstrip()) for x in lines if x.strip()), 0)
        for line in lines:
            hit = re.match(rf" {{{indent}}}(\w+)(?: \(.*?\))?:\s*(.*)", line)
            if hit:
                current = hit.group(1)
                helps[current] = hit.group(2)
            elif current and line.strip():
                helps[current] += " " + line.strip()
    return helps


def _docstring_parts(fn: Callable) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    return doc.split("\n\n")[0].strip(), _doc_section(doc, "Args")


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def _comma_list(item_type: Callable[[str], Any]) -> Callable[[str], list]:
    return lambda text: [item_type(x) for x in text.split(",") if x.strip()]


def _esc(text: str) -> str:
    return text.replace("%", "%%")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, dest: str,
                            prefix: str = "", aliases: dict[str, str] | None = None,
                            flag_prefix: str = "") -> None:
    """One option per (nested) field of dataclass ``cls``; values collect under ``dest``.

    ``flag_prefix`` namespaces the flags (``--train.lr``) where the command's own options
    would clash with the dataclass's; the collected keys stay the plain dotted field names.
    """
    hints = typing.get_type_hints(cls)
    helps = _doc_section(inspect.getdoc(cls) or "", "Attributes")
    default = cls()
    reverse = {v: k for k, v in (aliases or {}).items()}
    group = parser.add_argument_group(f"{flag_prefix}{prefix.rstrip('.') or cls.__name__} options")
    for f in dataclasses.fields(cls):
        tp, _ = _base_type(hints[f.name])
        dotted = prefix + f.name
        if dataclasses.is_dataclass(tp):
            add_dataclass_arguments(parser, tp, dest, dotted + ".", aliases, flag_prefix)
            continue
        value = getattr(default, f.name)
        flags = ["--" + flag_prefix + dotted.replace("_", "-")]
        if dotted in reverse:
            flags.append("--" + reverse[dotted].replace("_", "-"))
        shown = json.dumps(value) if isinstance(value, dict | list) else value
        kwargs = {"dest": f"{dest}:{dotted}", "default": argparse.SUPPRESS,
                  "help": _esc(f"{helps.get(f.name, '')} (default: {shown})")}
        if tp is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
        else:
            metavar = "JSON" if typing.get_origin(tp) is dict or tp is dict else f.name.upper()
            group.add_argument(*flags, metavar=metavar, **kwargs)


def add_function_arguments(parser: argparse.ArgumentParser, fn: Callable) -> None:
    """Add one option per keyword parameter of ``fn`` (type from its annotation)."""
    hints = typing.get_type_hints(fn)
    _, helps = _docstring_parts(fn)
    for name, param in inspect.signature(fn).parameters.items():
        tp, _ = _base_type(hints.get(name, str))
        if dataclasses.is_dataclass(tp):
            add_dataclass_arguments(parser, tp, name, aliases=ALIASES.get(fn.__name__),
                                    flag_prefix=NAMESPACED.get(fn.__name__, {}).get(name, ""))
            parser.set_defaults(**{name: None})
            continue
        flag = "--" + name.rstrip("_").replace("_", "-")  # json_ -> --json (PEP 8 trailing _)
        default = None if param.default is inspect.Parameter.empty else param.default
        kwargs: dict[str, Any] = {"dest": name, "help": _esc(helps.get(name, ""))}
        if param.default is inspect.Parameter.empty:
            kwargs["required"] = True
        else:
            kwargs["help"] += _esc(f" (default: {default})")
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, **kwargs)
            continue
        if typing.get_origin(tp) in (list, tuple):
            item = (typing.get_args(tp) or (str,))[0]
            kwargs["type"] = _comma_list(item if item in (int, float) else str)
        elif tp in (int, float):
            kwargs["type"] = tp
        parser.add_argument(flag, default=default, **kwargs)


def _collect(args: argparse.Namespace) -> dict[str, Any]:
    """Namespace -> function kwargs; ``dest:dotted`` options gathered into dicts."""
    kwargs: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key in ("_fn", "command", "debug", "verbose"):
            continue
        if ":" in key:
            dest, dotted = key.split(":", 1)
            group = kwargs.get(dest) or {}
            group[dotted] = json.loads(value) if isinstance(value, str) and value[:1] == "{" else value
            kwargs[dest] = group
        elif key not in kwargs:
            kwargs[key] = value
    return kwargs


def _resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    words = [a for a in argv[:2] if not a.startswith("-")]
    for n in (2, 1):
        name = " ".join(words[:n])
        if len(words) >= n and name in COMMANDS and argv[:n] == words[:n]:
            return name, argv[n:]
    return None, argv


def _top_parser() -> argparse.ArgumentParser:
    from alignguard import __version__

    lines = [f"  {name:<16} {summary}" for name, (_, summary) in COMMANDS.items()]
    parser = argparse.ArgumentParser(
        prog="alignguard", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Alignment-preserving LoRA fine-tuning (AlignGuard-LoRA).",
        epilog="commands:\n" + "\n".join(lines) + "\n\n`alignguard COMMAND --help` for its options.")
    parser.add_argument("--version", action="version", version=f"alignguard {__version__}")
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    return parser


def build_command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command (imports only that command's module)."""
    target, summary = COMMANDS[name]
    try:
        fn = _resolve(target)
    except (ImportError, AttributeError) as exc:
        raise CommandLoadError(f"the '{name}' command could not be loaded ({target}): "
                               f"{type(exc).__name__}: {exc}") from exc
    doc_summary, _ = _docstring_parts(fn)
    parser = argparse.ArgumentParser(prog=f"alignguard {name}",
                                     description=_esc(doc_summary or summary))
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    add_function_arguments(parser, fn)
    parser.set_defaults(_fn=fn)
    return parser


class CommandLoadError(RuntimeError):
    """A command's module failed to import."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures that get a one-line message instead of a traceback."""
    return (ValueError, OSError, RuntimeError, ArithmeticError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alignguard`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name, rest = _split_command(argv)
    if name is None:
        top = _top_parser()
        parsed = top.parse_args(argv)
        if parsed.command:
            top.error(f"unknown command {' '.join(parsed.command)!r}; choose from {list(COMMANDS)}")
        top.print_help()
        return 2
    try:
        parser = build_command_parser(name)
    except CommandLoadError as exc:
        print(f"alignguard: error: {exc}", file=sys.stderr)
        return 1
    args = parser.parse_args(rest)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        from alignguard.models import ignore_known_deprecations

        ignore_known_deprecations()
    try:
        result = args._fn(**_collect(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except expected_errors() as exc:
        if args.debug:
            raise
        print(f"alignguard: error: {exc} (--debug shows the traceback)", file=sys.stderr)
        return 1
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
