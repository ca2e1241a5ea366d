"""Helpers for the shell's tests: run build/bin/uvsock in scripted mode or on a pty."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHELL = os.environ.get("UVSOCK_SHELL", os.path.join(ROOT, "build", "bin", "uvsock"))


def env(**extra):
    e = dict(os.environ, NO_COLOR="1", TERM="xterm")
    e.pop("UVSOCK_LOG", None)
    e.update(extra)
    return e


def run(cmds=None, *args, rc=0, stdin=None, timeout=60):
    """Runs the shell with -c CMDS (or a script / stdin); stdout and stderr in one string."""
    argv = [SHELL, *args] + (["-c", cmds] if cmds is not None else [])
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, env=env())
    assert p.returncode == rc, f"exit {p.returncode}, want {rc}:\n{p.stdout}"
    return p.stdout


def error_line(out):
    """The one error line of a failed command."""
    lines = [l for l in out.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, out
    return lines[0]


@pytest.fixture
def shell_path():
    return SHELL
