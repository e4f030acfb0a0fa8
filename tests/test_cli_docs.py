"""The command reference page shows the help the command really prints."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from orderalloc._cli import cli

PAGE = Path(__file__).parent.parent / "docs" / "reference" / "cli.md"


def documented_help() -> list[tuple[list[str], str]]:
    """(command words, help text) for every help block of the page."""
    found: list[tuple[list[str], str]] = []
    command: list[str] | None = None
    block: list[str] | None = None
    for line in PAGE.read_text().splitlines():
        heading = re.match(r"^#+ `orderalloc ?(.*)`$", line)
        if heading:
            command = heading.group(1).split()
        elif line.startswith("## Global options"):
            command = []
        elif line == "```text" and command is not None:
            block = []
        elif line == "```" and block is not None and command is not None:
            found.append((command, "\n".join(block)))
            block, command = None, None
        elif block is not None:
            block.append(line)
    return found


def test_every_help_block_matches_the_command() -> None:
    """Each command's documented --help equals what the command prints today."""
    blocks = documented_help()
    assert len(blocks) >= 10
    for command, text in blocks:
        live = CliRunner().invoke(
            cli, [*command, "--help"], prog_name="orderalloc", terminal_width=80
        )
        assert live.output.rstrip("\n") == text, f"docs/reference/cli.md: orderalloc {command}"
