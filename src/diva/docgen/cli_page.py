"""The reference page of the ``diva`` commands, rendered from the click group itself.

It walks the group with click's own introspection (contexts, ``get_params``,
``collect_usage_pieces``, ``get_help_record``) instead of parsing ``--help`` output, so
neither the terminal's width nor the program's name (always ``diva``) changes a byte.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

from diva.cli import cli
from diva.docgen.markdown import COMMAND, NOTICE, anchor, code, heading, inline, paragraph, table

#: click 8.3+ marks "no default" with a sentinel of its own; earlier versions use None.
_UNSET = getattr(click.core, "UNSET", None)


def cli_reference() -> str:
    """Markdown reference of every ``diva`` command, from the click group itself."""
    contexts = list(walk(cli, None, "diva"))
    help_names = ", ".join(code(name) for name in contexts[0].help_option_names)
    lines = [NOTICE.format(source="the click commands of diva"), *_CLI_INTRO, ""]
    lines += [f"Every command also takes {help_names}: print its help and exit.", ""]
    rows = [[_link(ctx.command_path), inline(summary(ctx.command))] for ctx in contexts]
    lines += [*table(["command", "summary"], rows), ""]
    for ctx in contexts:
        lines += _command_section(ctx)
    return "\n".join(lines).rstrip() + "\n"


_CLI_INTRO = (
    "# `diva` command reference",
    "",
    "Every command and subcommand of `diva`, with its usage, help and options, generated "
    f"from the click commands by `{COMMAND}`; CI fails when this page differs from them. "
    "The guide with examples, output formats and exit codes is [cli.md](../cli.md).",
)


def walk(
    command: click.Command, parent: click.Context | None, name: str
) -> Iterator[click.Context]:
    """A context for ``command`` and for each of its subcommands, as click lists them.

    Contexts are built, not parsed into: no option reads the environment.
    """
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    yield ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                yield from walk(child, ctx, sub)


def help_text(command: click.Command) -> str:
    """The help as ``--help`` shows it: dedented, cut at click's ``\\f`` marker."""
    return inspect.cleandoc(command.help or "").partition("\f")[0]


def summary(command: click.Command) -> str:
    """The command's short help, else the first paragraph of its help."""
    return command.short_help or help_text(command).split("\n\n")[0]


def _link(command_path: str) -> str:
    return f"[{code(command_path)}](#{anchor(command_path)})"


def _command_section(ctx: click.Context) -> list[str]:
    command = ctx.command
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [*heading(2, ctx.command_path, code(ctx.command_path)), "```text", usage, "```", ""]
    if command.deprecated:
        reason = command.deprecated if isinstance(command.deprecated, str) else ""
        lines += [paragraph(f"Deprecated. {reason}"), ""]
    lines += _help_blocks(help_text(command))
    params = documented_params(ctx)
    arguments = [param for param in params if isinstance(param, click.Argument)]
    options = [param for param in params if isinstance(param, click.Option)]
    if arguments:
        rows = [_argument_row(ctx, param) for param in arguments]
        lines += ["Arguments:", "", *table(["argument", "type", "required"], rows), ""]
    if options:
        rows = [_option_row(ctx, param) for param in options]
        lines += ["Options:", "", *table(["option", "type", "default", "help"], rows), ""]
    children = _children(ctx)
    return [*lines, "Subcommands: " + ", ".join(children), ""] if children else lines


def _children(ctx: click.Context) -> list[str]:
    """Links to the direct subcommands of a group."""
    group = ctx.command
    if not isinstance(group, click.Group):
        return []
    return [
        _link(f"{ctx.command_path} {name}")
        for name in group.list_commands(ctx)
        if (child := group.get_command(ctx, name)) is not None and not child.hidden
    ]


def documented_params(ctx: click.Context) -> list[click.Parameter]:
    """The command's parameters but its help option, which every command has."""
    helper = ctx.command.get_help_option(ctx)
    hidden = set(helper.opts) if helper is not None else set()
    return [
        param
        for param in ctx.command.get_params(ctx)
        if not set(param.opts) & hidden and not getattr(param, "hidden", False)
    ]


def _help_blocks(text: str) -> list[str]:
    """click's help paragraphs; one that starts with ``\\b`` keeps its lines, verbatim."""
    lines: list[str] = []
    for block in text.strip().split("\n\n"):
        if block.startswith("\b"):
            lines += ["```text", block.removeprefix("\b").strip("\n"), "```", ""]
        elif block.strip():
            lines += [paragraph(block), ""]
    return lines


def _argument_row(ctx: click.Context, param: click.Parameter) -> list[str]:
    required = "yes" if param.required else "no"
    return [code(param.make_metavar(ctx)), param_type(param), required]


def _option_row(ctx: click.Context, param: click.Option) -> list[str]:
    record = param.get_help_record(ctx)
    names = record[0] if record else ", ".join(param.opts)
    help_text = inline(param.help or "")
    if param.envvar:
        variables = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        found = ", ".join(code(name) for name in variables)
        help_text = f"{help_text} Environment: {found}.".strip()
    return [code(names), param_type(param), _param_default(ctx, param), help_text]


def param_type(param: click.Parameter) -> str:
    """A readable type: ``flag``, ``one of: text, json``, ``integer ≥ 1``, ``path``, ..."""
    if isinstance(param, click.Option) and param.count:
        return "count"
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    base = _click_type(param)
    if param.multiple:
        return f"{base}, repeatable"
    return f"list of {base}" if param.nargs == -1 else base


def _click_type(param: click.Parameter) -> str:
    kind = param.type
    if isinstance(kind, click.Choice):
        return "one of: " + ", ".join(code(str(choice)) for choice in kind.choices)
    if isinstance(kind, click.IntRange | click.FloatRange):
        return _range(kind)
    if isinstance(kind, click.Path):
        found = {(True, True): "path", (True, False): "file", (False, True): "directory"}
        text = found.get((kind.file_okay, kind.dir_okay), "path")
        return f"{text} or {code('-')}" if kind.allow_dash else text
    names = {"integer": "integer", "float": "number", "boolean": "boolean", "text": "text"}
    return names.get(kind.name, kind.name)


def _range(kind: click.IntRange | click.FloatRange) -> str:
    integer = isinstance(kind, click.IntRange)
    limits = []
    if kind.min is not None:
        limits.append(f"{'>' if kind.min_open else '≥'} {kind.min}")
    if kind.max is not None:
        limits.append(f"{'<' if kind.max_open else '≤'} {kind.max}")
    return " ".join(["integer" if integer else "number", ", ".join(limits)]).strip()


def _param_default(ctx: click.Context, param: click.Parameter) -> str:
    if param.required:
        return "**required**"
    value = param.get_default(ctx, call=False)
    if isinstance(param, click.Option) and param.is_flag and not param.count:
        return "on" if value else "off"
    if callable(value):
        return "computed"
    if value is None or value is _UNSET or value == ():
        return "*none*"
    return code(str(value))
