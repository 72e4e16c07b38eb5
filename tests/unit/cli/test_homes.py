"""Each command is found in the module the console entry point loads for it alone."""

from __future__ import annotations

import typer
import typer.main

from beproduct_sync import cli


def _module_of(command: object) -> str:
    callback = getattr(command, "callback", None)
    if callback is None:  # a group: where its sub-commands are defined
        commands = list(getattr(command, "commands", {}).values())
        assert commands, command
        callback = commands[0].callback
    return str(callback.__module__)


def test_every_command_is_mapped_to_the_module_that_defines_it() -> None:
    group = typer.main.get_group(cli.load())
    assert isinstance(group, typer.core.TyperGroup)
    found = {name: _module_of(c).rsplit(".", 1)[-1] for name, c in group.commands.items()}
    assert found == cli.HOMES
    assert set(cli.HOMES.values()) <= set(cli.MODULES)
