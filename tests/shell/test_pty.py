"""A real terminal session on a pty: typing, Callbacks above a half-typed line, TAB, keys."""
import os
import re

import pexpect
import pytest

from conftest import SHELL, env

PROMPT = r"uvsock \[sim cid 3\]> "


def spawn(tmp_path, **extra):
    e = env(UVSOCK_HISTORY=str(tmp_path / "history"), HOME=str(tmp_path), **extra)
    p = pexpect.spawn(SHELL, env=e, encoding="utf-8", timeout=10, dimensions=(40, 200))
    p.expect("uvsock shell on sim, guest CID 3")
    p.expect(PROMPT)
    return p


def finish(p):
    """Ctrl-D leaves cleanly: open connections are reset, the exit status is 0."""
    p.send("\x04")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0, p.before


def test_callbacks_above_a_half_typed_line(tmp_path):
    p = spawn(tmp_path)
    p.sendline("connect 2 7")
    p.expect("SendRequest c1  1025 -> 2:7: ZX_OK")
    p.expect(r"callback response\s+c1  1025 -> 2:7")
    p.expect(PROMPT)
    # Two Callbacks (and the command that causes them) fire while a line is half typed.
    p.sendline("after 0.5 sim connect 5000; after 0.7 sim connect 5001")
    p.expect(PROMPT)
    p.send("send c1 hel")
    p.expect(r"callback request\s+c2  5000 -> 2:")
    # The prompt and the half-typed text are redrawn intact below the Callback.
    p.expect(PROMPT + "send c1 hel")
    p.expect(r"callback request\s+c3  5001 -> 2:")
    p.expect(PROMPT + "send c1 hel")
    p.send("lo\r")
    p.expect(r"c1 >> 5 bytes")
    p.expect(r"c1 << 5 bytes\r+\n  hello\r+\n")
    p.expect(PROMPT)
    finish(p)


def test_tab_completion(tmp_path):
    p = spawn(tmp_path)
    p.send("hel\t")           # a command
    p.expect("p ")
    p.send("conn\t")          # its argument: a command name
    p.expect("ect ")
    p.send("\r")
    p.expect(r"connect <cid:port> \[from <lport>\]")
    p.expect(PROMPT)
    p.sendline("connect 2:7")
    p.expect(PROMPT)
    p.send("why \t")          # a live connection
    p.expect("c1 ")
    p.send("\r")
    p.expect("c1 is not blocked|c1 has waited")
    p.expect(PROMPT)
    p.send("sim co\t")        # ambiguous: the candidates are listed, the line kept
    p.expect("connect  corrupt")
    p.expect(PROMPT + "sim co")
    p.send("\x03")            # Ctrl-C drops it
    p.expect(PROMPT)
    p.send("cid\r")
    p.expect("\r\n3\r\n")
    p.expect(PROMPT)
    finish(p)


def test_ctrl_c_cancels_and_ctrl_d_leaves(tmp_path):
    p = spawn(tmp_path)
    p.sendline("connect 2:7")
    p.expect(r"callback response")
    p.expect(PROMPT)
    p.send("bogus half line")
    p.send("\x03")
    p.expect(r"\^C")
    p.expect(PROMPT)
    p.sendline("list")
    p.expect(r"c1\s+1025 -> 2:7\s+active")
    p.expect(PROMPT)
    p.send("\x04")
    p.expect(r"rst c1  1025 -> 2:7 \(leaving\)")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    assert "bogus" not in p.before
    # History is kept across sessions.
    hist = (tmp_path / "history").read_text()
    assert "connect" in hist and "list" in hist  # libedit's format escapes spaces


def test_errors_keep_the_session(tmp_path):
    p = spawn(tmp_path)
    p.sendline("connect 2:x")
    p.expect("error: connect: ZX_ERR_INVALID_ARGS: '2:x' is not CID:PORT")
    p.expect(PROMPT)
    p.sendline("quit")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_prompt_follows_the_cid_and_colours(tmp_path):
    e = env(UVSOCK_HISTORY=str(tmp_path / "history"))
    e.pop("NO_COLOR")
    p = pexpect.spawn(SHELL, env=e, encoding="utf-8", timeout=10, dimensions=(40, 200))
    p.expect(PROMPT)
    p.sendline("sim reset 7")
    # On a terminal: time stamps and colour.
    p.expect(r"\[\s+\d+\.\d{3}\] \x1b\[1;36mcallback transport_reset\s+new_cid=7")
    p.expect(r"uvsock \[sim cid 7\]> ")
    p.sendline("exit")
    p.expect(pexpect.EOF)


def test_ctrl_c_interrupts_a_waiting_command(tmp_path):
    p = spawn(tmp_path)
    p.sendline("wait rst 30")
    p.expect("wait rst 30")
    p.send("\x03")
    p.expect("error: wait: ZX_ERR_CANCELED: no rst callback in 30 s")
    p.expect(PROMPT)
    p.sendline("cid")
    p.expect("\r\n3\r\n")
    finish(p)


def test_log_lines_above_the_prompt(tmp_path):
    p = spawn(tmp_path)
    p.sendline("log debug")
    p.expect("log level debug")
    p.expect(PROMPT)
    p.sendline("after 0.3 connect 2:7")
    p.expect(PROMPT)
    p.send("cid")
    p.expect(r"log (debug|info): ")
    p.expect(PROMPT + "cid")
    p.send("\r")
    p.expect("\r\n3\r\n")
    finish(p)


def test_a_wrapped_line_survives(tmp_path):
    p = spawn(tmp_path)
    p.setwinsize(24, 40)
    p.sendline("after 0.4 print EVENT")
    p.expect(r"cid 3\]> ")
    long = "print " + "x" * 60
    p.send(long)
    # The cursor is two rows below the prompt's row: up 2, clear to the end, print.
    p.expect(r"\x1b\[2A\r\x1b\[JEVENT\r")
    p.send("\r")
    p.expect("\n" + "x" * 60 + "\r\n")
    finish(p)
