"""What the commands share: options made from a dataclass, one-line errors, a quiet closed pipe.

Each command (train, sample) describes its settings once, as a dataclass whose fields carry
a one-line help text (`option(default, help)`). From it come the command-line options, the
`--help` text with every default, and the values a test or a script passes in Python.

Every mistake a user can make on the command line ends in one line on stderr,

    error: --n_head 3: must divide --n_embd (128) evenly

and exit status 2, as argparse's own errors do; never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, NoReturn


class ConfigError(ValueError):
    """A setting outside what is allowed; the message starts with the option and its value."""


def option(default: Any, help: str, *, fixed: bool = False) -> Any:
    """A dataclass field that is also a command-line option with a one-line help text.

    fixed=True marks a setting that shapes the model, the tokenizer or the data: a resumed
    run must keep it (numpygpt.configs.resume_config).
    """
    return dataclasses.field(default=default, metadata={"help": help, "fixed": fixed})


class ArgumentParser(argparse.ArgumentParser):
    """argparse with its errors on one line, `error: ...`, exit status 2, and `--a-b` accepted for `--a_b`."""

    def __init__(self, prog: str, description: str) -> None:
        super().__init__(
            prog=prog,
            description=description,
            usage="%(prog)s [--option VALUE ...]",
            # NOTE: argparse would take `--seed` for `--seeds` or `--max` for `--max_iters`: a typo
            # would silently set another option. Options are named in full.
            allow_abbrev=False,
            formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30, width=110),
        )

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        args = sys.argv[1:] if args is None else list(args)
        known = {s for action in self._actions for s in action.option_strings}
        return super().parse_args([_underscored(a, known) for a in args], namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _underscored(arg: str, known: set[str]) -> str:
    """`--max-new-tokens=5` -> `--max_new_tokens=5` when that is an option; anything else unchanged."""
    name, eq, value = arg.partition("=")
    alias = name.replace("-", "_").replace("__", "--", 1)
    return alias + eq + value if name.startswith("--") and alias in known else arg


def parse_bool(s: str) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case)."""
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


# `float | None`, `int | None`: an option whose default (None) is worked out from others, e.g. min_lr from
# learning_rate, n_kv_head from n_head.
_TYPES: dict[str, Callable[[str], Any]] = {
    "int": int,
    "int | None": int,
    "float": float,
    "float | None": float,
    "str": str,
    "bool": parse_bool,
}


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    sections: dict[str, str] | None = None,
    defaults: Any = None,
    skip: Collection[str] = (),
) -> None:
    """One option per field of the dataclass `cls`, `--name` (`--name-with-dashes` works too).

    Every option's default is None, so that the parsed namespace tells which ones were given
    (`given_options`); the help text shows the real default, taken from `defaults` (an
    instance of cls; default: cls()). `sections` maps the first field of a section to its
    title in --help. Fields named in `skip` get no option (a command that sets them itself).
    """
    defaults = defaults if defaults is not None else cls()
    group: Any = parser
    for f in dataclasses.fields(cls):
        if sections and f.name in sections:
            group = parser.add_argument_group(sections[f.name])
        if f.name in skip:
            continue
        kind = _TYPES[str(f.type)]
        # A bool may stand alone (`--resume`) or take a value (`--bias false`).
        extra: dict[str, Any] = {"nargs": "?", "const": True} if kind is parse_bool else {}
        shown = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (default: {shown!r})" if shown not in ("", None) else f.metadata["help"]
        metavar = str(f.type).split(" |")[0].upper()
        group.add_argument(f"--{f.name}", type=kind, default=None, help=help_text, metavar=metavar, **extra)


def given_options(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of `cls` that the command line gave explicitly, with their values."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def fail(message: str, status: int) -> int:
    """Print `error: message` on stderr (each line of it) and return the exit status."""
    for line in message.splitlines():
        print(f"error: {line}", file=sys.stderr)
    return status


def run(main: Callable[[Sequence[str] | None], int]) -> int:
    """Run a command's main(); a reader that closes the pipe (`| head`) ends it quietly, status 0."""
    try:
        return main(None)
    except BrokenPipeError:
        # NOTE: Python flushes stdout once more at exit and would report the broken pipe
        # again; point stdout at /dev/null so that last flush has nowhere to fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
