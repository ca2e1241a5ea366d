"""docs/shell.md lists exactly the commands of the command table (through `help`)."""
import os
import re

from conftest import ROOT, run


def help_entries():
    """(usage, summary) for each command, parsed from `help` (the command table)."""
    lines = run("help").splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith("  ") or not line.strip():
            continue
        usage = line[2:].split("  ")[0].strip()
        summary = line[2 + len(usage):].strip()
        if not usage:  # the summary line of a wrapped entry
            continue
        if not summary:
            summary = lines[i + 1].strip()
        out.append((usage, summary))
    return out


def test_docs_match_the_command_table():
    text = open(os.path.join(ROOT, "docs", "shell.md")).read()
    section = text.split("## Commands", 1)[1].split("### Notes", 1)[0]
    documented = re.findall(r"^- `([^`]+)`: (.*)$", section, re.M)
    entries = help_entries()
    assert len(entries) > 40
    assert sorted(documented) == sorted(entries)


def test_every_command_has_a_test():
    """Each command name appears in the scripted tests."""
    src = open(os.path.join(os.path.dirname(__file__), "test_scripted.py")).read()
    for usage, _ in help_entries():
        name = re.split(r" [<\[]", usage)[0]
        assert re.search(r"[\"'; ]" + re.escape(name) + r"\b", src), name
