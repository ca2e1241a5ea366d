"""Scripted mode: every command, and every error message (one line, naming the status)."""
import os
import re
import subprocess

import pytest

from conftest import SHELL, env, error_line, run

ECHO = "connect 2:7; wait response"


# ------------------------------------------------------------------ Device calls ---

def test_connect_echo_send_recv():
    out = run(ECHO + "; send c1 hello; expect data c1 hello")
    assert "SendRequest c1  1025 -> 2:7: ZX_OK" in out
    assert "callback response          c1  1025 -> 2:7" in out
    assert "c1 >> 5 bytes" in out and "expect data c1: ZX_OK" in out


def test_connect_forms_and_request_alias():
    out = run("connect 2 7; request 2:7 from 4000; connect 2 9 from 4001; wait response; "
              "wait response; wait response; list")
    assert "c1  1025 -> 2:7" in out
    assert "c2  4000 -> 2:7" in out
    assert "c3  4001 -> 2:9" in out
    assert len(re.findall(r"active", out)) == 3


def test_start_resets_connections():
    out = run(ECHO + "; start; expect state c1 closed; list")
    assert "Start: ZX_OK" in out
    assert "closed:start" in out


def test_no_start_then_start():
    out = run("connect 2:7", "--no-start", rc=1)
    assert error_line(out) == "error: connect: ZX_ERR_BAD_STATE: SendRequest 1025 -> 2:7"
    out = run("start; " + ECHO, "--no-start")
    assert "wait response: ZX_OK" in out


def test_accept_respond_host_initiated():
    out = run("sim connect 5000; wait request; accept; sim send h1 ping; expect data c1 ping; "
              "send c1 pong; expect data h1 pong; sim connect 5001 7777; wait request; respond c2; "
              "list")
    assert "sim connect h1  host 2:1073741824 <-> guest port 5000: ZX_OK" in out
    assert "callback request           c1  5000 -> 2:1073741824  (accept c1 or rst c1)" in out
    assert "SendResponse c1  5000 -> 2:1073741824: ZX_OK" in out
    assert "SendResponse c2  5001 -> 2:7777: ZX_OK" in out


def test_shutdown_and_rst():
    out = run(ECHO + "; shutdown c1; wait rst; expect state c1 closed")
    assert "SendShutdown c1  1025 -> 2:7: ZX_OK" in out
    out = run(ECHO + "; rst c1; expect state c1 closed; rst 2:7 from 3000; list")
    assert "SendRst c1  1025 -> 2:7: ZX_OK" in out
    assert "SendRst -  3000 -> 2:7: ZX_OK" in out
    assert "closed:rst sent" in out


def test_rst_by_address():
    out = run(ECHO + "; rst 2 7 from 1025; list")
    assert "SendRst c1  1025 -> 2:7: ZX_OK" in out


def test_cid():
    assert run("cid").strip() == "3"
    assert run("cid", "--device", "sim:cid=5").strip() == "5"


def test_sendvmo(tmp_path):
    f = tmp_path / "vmo.txt"
    f.write_text("0123456789vmo-bytes")
    out = run(ECHO + f"; sendvmo c1 {f}; wait send_vmo_complete; expect data c1 vmo-bytes; "
              f"sendvmo c1 {f} 10 3; wait send_vmo_complete; expect data c1 vmo")
    assert f"SendVmo c1  19 bytes of {f} from 0: ZX_OK" in out
    assert f"SendVmo c1  3 bytes of {f} from 10: ZX_OK" in out


# -------------------------------------------------------------------------- data ---

def test_sendhex_sendfile_recv(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("file-contents")
    out = run("set data hold; " + ECHO + "; sendhex c1 68 69 0x21; sleep 0.2; recv c1; "
              f"sendfile c1 {f}; expect data c1 file-contents; sendhex c1 00ff; sleep 0.2; "
              "recv c1 hex; recv c1")
    assert "c1 << 3 bytes\n  hi!" in out
    assert "c1 >> 13 bytes" in out
    assert "00000000  00 ff" in out
    assert "c1: nothing received" in out


def test_send_escapes_and_quotes():
    out = run(ECHO + '; send c1 "a\\tb\\x41"; expect data c1 "a\\tbA"; '
              "send c1 'single; quoted'; expect data c1 'single; quoted'")
    assert "c1 >> 4 bytes" in out
    assert "c1 >> 14 bytes" in out


def test_sendgen_verifies_echo():
    out = run(ECHO + "; sendgen c1 300000")
    assert re.search(r"c1: 300000 bytes sent and echoed intact in [0-9.]+ s", out)


def test_data_show_prints_as_it_arrives():
    out = run(ECHO + "; send c1 line1; sleep 0.2")
    assert "c1 << 5 bytes\n  line1" in out


def test_source_service_hexdump():
    out = run("set data hold; connect 2:19; wait response; sleep 0.2; set data off; recv c1 hex")
    assert "00000000  00 07 0e 15 1c 23 2a 31  38 3f 46 4d 54 5b 62 69" in out


# ---------------------------------------------------------------- introspection ---

def test_list_empty_and_stats():
    assert "no connections (try: connect 2:7" in run("list")
    out = run(ECHO + "; stats")
    assert "device sim  cid 3  started" in out
    assert re.search(r"^rx\s+\d+", out, re.M) and re.search(r"^tx\s+\d+", out, re.M)
    assert "event queue: 0 waiting, 0 overflowed" in out


def test_why_every_reason(tmp_path):
    out = run(ECHO + "; why c1")
    assert "c1 is not blocked: nothing waits to be sent or read" in out
    out = run("set data off; connect 2:19; wait response; sleep 0.3; why c1")
    assert re.search(r"c1 holds \d+ received bytes our user has not read, for [0-9.]+ s "
                     r"\(the shell is not reading: set data show\)\.", out)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(1 << 20))
    out = run(f"sim credit 4096; sim listen 6000; connect 2:6000; wait response; sim accept 6000; "
              f"set data off; sendfile c1 {big}; sleep 0.3; why c1")
    assert "c1 has bytes to send but no peer credit for" in out
    out = run("sim corrupt drop 1025; connect 2:7; sleep 0.2; why c1")
    assert re.search(r"c1 has waited [0-9.]+ s for the peer's Response to its Request\.", out)
    out = run("connect 2:12345; wait rst; why c1")
    assert "c1 is closed (rst): the driver no longer knows it." in out
    out = run("sim connect 5000; wait request; why c1")
    assert "c1 waits for you: the peer's Request has no answer yet (accept c1 or rst c1)." in out
    out = run(ECHO + "; shutdown c1; why c1")
    assert re.search(r"c1 (is not blocked|sent SHUTDOWN|is closed|is gone)", out)


def test_capture(tmp_path):
    pcap = tmp_path / "a.pcap"
    out = run(f"capture start {pcap}; capture; " + ECHO + "; capture stop; capture")
    assert f"capture start {pcap}: ZX_OK" in out
    assert re.search(r"capture stop: ZX_OK \(\d+ packets, \d+ bytes\)", out)
    assert pcap.stat().st_size > 24


def test_pcap_option(tmp_path):
    pcap = tmp_path / "b.pcap"
    run(ECHO + "; send c1 hi; expect data c1 hi", "--pcap", str(pcap))
    assert pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")


def test_log_levels():
    assert "log level warn" in run("log")
    out = run("log debug; " + ECHO + "; log error")
    assert "log level debug" in out and "log level error" in out


# ---------------------------------------------------------------------- the sim ---

def test_sim_listen_accept_close_unlisten():
    out = run("sim listen 6000; connect 2:6000; wait response; sim accept 6000; "
              "sim send h1 to-guest; expect data c1 to-guest; send c1 to-host; "
              "expect data h1 to-host; sim close h1; wait shutdown; sim unlisten 6000; list")
    assert "sim accept h1  host 2:6000 <-> guest port 1025: ZX_OK" in out
    assert "sim close h1: ZX_OK" in out
    assert "callback shutdown" in out
    assert "sim unlisten 2:6000: ZX_OK" in out


def test_sim_recv():
    out = run("set data hold; sim listen 6000; connect 2:6000; wait response; sim accept 6000; "
              "send c1 abc; sleep 0.2; sim recv h1; sim recv h1 hex")
    assert "h1 << 3 bytes\n  abc" in out
    assert "h1: nothing received" in out


def test_sim_reset_and_setcid():
    out = run(ECHO + "; sim reset 9; wait transport_reset; expect cid 9; expect state c1 closed; "
              "cid; sim reset; wait transport_reset; expect cid 9; sim setcid 11; "
              "wait transport_reset; expect cid 11; list")
    assert "callback transport_reset   new_cid=9  (every connection dropped)" in out
    assert "closed:transport reset" in out
    assert "expect cid 11: ZX_OK" in out


def test_sim_credit_and_corrupt_and_stats():
    out = run(ECHO + "; sim credit 1024; sendgen c1 20000; sim corrupt bad_type 1025; send c1 x; "
              "wait rst; sim stats")
    assert "sim credit 1024: ZX_OK" in out
    assert "sim corrupt bad_type on the next packet to guest port 1025: ZX_OK" in out
    assert "host: packets from driver" in out and "fault pending no" in out
    out = run(ECHO + "; sim corrupt drop; sim corrupt none")
    assert "sim corrupt drop on the next packet to any port: ZX_OK" in out


# -------------------------------------------------------- scripts and settings ---

def test_wait_sleep_after_print():
    out = run("after 0.1 print later; print now; sleep 0.4")
    assert out.index("\nnow\n") < out.index("\nlater\n")
    assert "after 0.1 s: print later" in out


def test_after_keeps_quoting():
    out = run("after 0.05 print 'a  b'; sleep 0.3")
    assert "\na  b\n" in out


def test_set():
    out = run("set")
    assert "data show\ntime off\ncolor off\ntimeout 5\nerrors stop" in out
    out = run("set data hold; set time on; set timeout 2; set errors continue; set")
    assert "data hold\ntime on\ncolor off\ntimeout 2\nerrors continue" in out


def test_errors_continue():
    out = run("set errors continue; bogus; print still-here", rc=1)
    assert "still-here" in out


def test_first_failure_stops():
    out = run("bogus; print not-here", rc=1)
    assert "not-here" not in out


def test_quit_and_exit():
    assert "no" not in run("quit; print no")
    assert "no" not in run("exit; print no")


def test_help():
    out = run("help")
    assert "connect <cid:port> [from <lport>]" in out
    assert run("help connect").strip().startswith("connect <cid:port> [from <lport>]")
    out = run("help sim")
    assert "sim connect <port> [<hostport>]" in out and "sim stats" in out
    assert "capture start <file>" in run("help capture")


def test_script_file(tmp_path):
    s = tmp_path / "t.uvs"
    s.write_text("# a test as a script\nconnect 2:7\nwait response\nsend c1 hi\nexpect data c1 hi\n")
    assert "expect data c1: ZX_OK" in run(None, str(s))
    s.write_text("print one\nexpect cid 4\nprint two\n")
    out = run(None, "--device", "sim", str(s), rc=1)
    assert f"uvsock: {s}:2: stopped: ZX_ERR_TIMED_OUT" in out and "two" not in out


def test_stdin_commands():
    out = run(None, stdin="connect 2:7\nwait response\nsend c1 piped\nexpect data c1 piped\n")
    assert "expect data c1: ZX_OK" in out
    out = run(None, stdin="print a\nbogus\nprint b\n", rc=1)
    assert "a\n" in out and "\nb\n" not in out


def test_script_from_stdin_dash():
    out = run(None, "-", stdin="print dash\n")
    assert "dash" in out


def test_leaving_rsts_open_connections():
    out = run(ECHO)
    assert "rst c1  1025 -> 2:7 (leaving)" in out


def test_options():
    assert "usage: uvsock" in run(None, "--help")
    assert "usage: uvsock" in run(None, "--bogus", rc=2)
    assert "usage: uvsock" in run(None, "a", "b", rc=2)
    out = run("cid", "--device", "uio:00ff:ff:1f.7", rc=2)
    assert out.startswith("error: open uio:00ff:ff:1f.7: ZX_ERR_NOT_FOUND")
    out = run("cid", "--device", "sim:bogus=1", rc=2)
    assert out.startswith("error: open sim:bogus=1: ZX_ERR_INVALID_ARGS")
    out = run("cid", "--pcap", "/nonexistent/dir/x.pcap", rc=2)
    assert out.startswith("error: --pcap /nonexistent/dir/x.pcap: ZX_ERR_IO")
    out = run(None, "/nonexistent/script", rc=1)
    assert "uvsock: /nonexistent/script: No such file" in out


# ------------------------------------------------------------ every error message ---

ERRORS = [
    # parsing and dispatch
    ("bogus", "error: ZX_ERR_NOT_FOUND: unknown command 'bogus' (try help)"),
    ("sim bogus", "error: sim: ZX_ERR_NOT_FOUND: unknown subcommand 'bogus' (try help sim)"),
    ("expect", "error: expect: ZX_ERR_NOT_FOUND: unknown subcommand '' (try help expect)"),
    ("connect", "error: connect: ZX_ERR_INVALID_ARGS: usage: connect <cid:port> [from <lport>]"),
    ("cid 5", "error: cid: ZX_ERR_INVALID_ARGS: usage: cid "),
    ("print 'open", "error: ZX_ERR_INVALID_ARGS: unterminated '"),
    ('print "open', 'error: ZX_ERR_INVALID_ARGS: unterminated "'),
    ('print "\\x0"', "error: ZX_ERR_INVALID_ARGS: \\x needs two hex digits, not 00 (use sendhex)"),
    # arguments
    ("connect 2:x", "error: connect: ZX_ERR_INVALID_ARGS: '2:x' is not CID:PORT"),
    ("connect 2:7 to 5", "error: connect: ZX_ERR_INVALID_ARGS: expected 'from LOCALPORT' after 2:7"),
    ("connect 2:7 from x", "error: connect: ZX_ERR_INVALID_ARGS: local port 'x' is not a number"),
    ("connect 2:7 from 99999999999",
     "error: connect: ZX_ERR_OUT_OF_RANGE: local port 99999999999 does not fit in 32 bits"),
    ("sleep x", "error: sleep: ZX_ERR_INVALID_ARGS: 'x' is not a time in seconds (0-86400)"),
    ("shutdown c9", "error: shutdown: ZX_ERR_NOT_FOUND: no connection c9 (see list)"),
    ("why 2:7", "error: why: ZX_ERR_NOT_FOUND: no open connection to 2:7 (see list)"),
    ("why 2:x", "error: why: ZX_ERR_INVALID_ARGS: '2:x' is not CID:PORT or CID:PORT/LOCALPORT"),
    ("why zz", "error: why: ZX_ERR_INVALID_ARGS: 'zz' is not a connection (c1, c2, ... or CID:PORT)"),
    ("sim close zz", "error: sim close: ZX_ERR_INVALID_ARGS: 'zz' is not a connection (h1, h2, ...)"),
    ("connect 2:7 from 1; connect 2:7 from 2; why 2:7",
     "error: why: ZX_ERR_INVALID_ARGS: 2:7 matches 2 connections: use an id or CID:PORT/LOCALPORT"),
    # state, and the Device calls' own statuses
    (ECHO + "; connect 2:7 from 1025",
     "error: connect: ZX_ERR_ALREADY_BOUND: SendRequest 1025 -> 2:7"),
    ("connect 2:12345; wait rst; shutdown c1",
     "error: shutdown: ZX_ERR_BAD_STATE: SendShutdown c1  1025 -> 2:12345"),
    ("accept", "error: accept: ZX_ERR_NOT_FOUND: no Request is waiting to be accepted"),
    (ECHO + "; accept c1", "error: accept: ZX_ERR_BAD_STATE: c1 is open, not a Request waiting to be accepted"),
    ("connect 2:12345; wait rst; send c1 x", "error: send: ZX_ERR_BAD_STATE: c1 is closed by rst"),
    ("sim connect 5000; wait request; send c1 x",
     "error: send: ZX_ERR_BAD_STATE: c1 is incoming (accept it first)"),
    ("connect 2:12345; wait rst; sendvmo c1 /etc/hostname",
     "error: sendvmo: ZX_ERR_NOT_FOUND: SendVmo c1  "),
    (ECHO + "; sendvmo c1 /nonexistent", "error: sendvmo: ZX_ERR_NOT_FOUND: /nonexistent: No such file or directory"),
    (ECHO + "; sendvmo c1 /etc/hostname 0", "error: sendvmo: ZX_ERR_INVALID_ARGS: give both OFF and LEN, or neither"),
    (ECHO + "; sendvmo c1 /etc/hostname 0 999999",
     "error: sendvmo: ZX_ERR_OUT_OF_RANGE: SendVmo c1  999999 bytes from 0"),
    (ECHO + "; sendvmo c1 /etc/hostname 0 0", "error: sendvmo: ZX_ERR_INVALID_ARGS: SendVmo c1  0 bytes from 0"),
    (ECHO + "; sendhex c1 6", "error: sendhex: ZX_ERR_INVALID_ARGS: '6' is not hex bytes (pairs of digits: 68 69 or 6869)"),
    (ECHO + "; sendfile c1 /nonexistent", "error: sendfile: ZX_ERR_NOT_FOUND: /nonexistent: No such file or directory"),
    (ECHO + "; sendfile c1 /proc/self/mem", "error: sendfile: ZX_ERR_IO: /proc/self/mem: read error"),
    (ECHO + "; sendgen c1 0", "error: sendgen: ZX_ERR_OUT_OF_RANGE: byte count from 1 to 67108864"),
    ("connect 2:9; wait response; sendgen c1 1000 0.3",
     "error: sendgen: ZX_ERR_TIMED_OUT: c1: 0 of 1000 bytes came back"),
    ("sim listen 6000; connect 2:6000; wait response; sim accept 6000; sim send h1 zzzz; "
     "sendgen c1 4 2", "error: sendgen: ZX_ERR_IO: c1: echo differs at byte 0: got 0x7a, want 0x00"),
    ("sim listen 6000; connect 2:6000; wait response; sim accept 6000; sim close h1; "
     "sendgen c1 100 2", "error: sendgen: ZX_ERR_"),
    (ECHO + "; recv c1 binary", "error: recv: ZX_ERR_INVALID_ARGS: 'binary': say text or hex"),
    # capture and log
    ("capture stop", "error: capture stop: ZX_ERR_BAD_STATE: no capture is running"),
    ("capture start /nonexistent/x.pcap", "error: capture start: ZX_ERR_IO: "),
    ("capture start /dev/null; capture start /dev/null", "error: capture start: ZX_ERR_BAD_STATE: "),
    ("log loud", "error: log: ZX_ERR_INVALID_ARGS: 'loud' is not error, warn, info or debug"),
    # the sim
    ("sim connect x", "error: sim connect: ZX_ERR_INVALID_ARGS: port 'x' is not a number"),
    ("sim connect 5000 7; sim connect 5000 7", "error: sim connect: ZX_ERR_"),
    ("sim listen 7", "error: sim listen: ZX_ERR_INVALID_ARGS: host port 7"),
    ("sim listen 6000; sim listen 6000", "error: sim listen: ZX_ERR_ALREADY_BOUND: host port 6000"),
    ("sim unlisten 6001", "error: sim unlisten: ZX_ERR_NOT_FOUND: host port 6001"),
    ("sim accept 6001 0.1", "error: sim accept: ZX_ERR_NOT_FOUND: nothing accepted on host port 6001"),
    ("sim listen 6000; sim accept 6000 0.1", "error: sim accept: ZX_ERR_TIMED_OUT: nothing accepted on host port 6000"),
    ("sim send h1 x", "error: sim send: ZX_ERR_NOT_FOUND: no connection h1 (see list)"),
    ("sim recv h1", "error: sim recv: ZX_ERR_NOT_FOUND: no connection h1 (see list)"),
    ("sim connect 5000; sim close h1; sim close h1", "error: sim close: ZX_ERR_BAD_STATE: h1 is already closed"),
    ("sim reset 1", "error: sim reset: ZX_ERR_INVALID_ARGS: transport reset to cid 1"),
    ("sim setcid 2", "error: sim setcid: ZX_ERR_INVALID_ARGS: cid 2"),
    ("sim credit 0", "error: sim credit: ZX_ERR_INVALID_ARGS: host buf_alloc 0"),
    ("sim corrupt melt", "error: sim corrupt: ZX_ERR_INVALID_ARGS: unknown fault 'melt' (help sim corrupt)"),
    # scripts and settings
    ("wait nothing", "error: wait: ZX_ERR_INVALID_ARGS: 'nothing' is not a Callback (help wait)"),
    ("wait rst 0.2", "error: wait: ZX_ERR_TIMED_OUT: no rst callback in 0.2 s"),
    ("set timeout 0.2; " + ECHO + "; expect data c1 nope",
     "error: expect data: ZX_ERR_TIMED_OUT: c1 did not receive \"nope\" in 0.2 s (0 bytes unread)"),
    ("set timeout 0.2; " + ECHO + "; expect state c1 closed",
     "error: expect state: ZX_ERR_TIMED_OUT: c1 is active, not closed"),
    (ECHO + "; expect state c1 happy", "error: expect state: ZX_ERR_INVALID_ARGS: 'happy' is not a state (help expect state)"),
    ("set timeout 0.2; expect cid 4", "error: expect cid: ZX_ERR_TIMED_OUT: cid is 3, not 4"),
    ("set data loud", "error: set: ZX_ERR_INVALID_ARGS: 'loud': say show, hold or off"),
    ("set time maybe", "error: set: ZX_ERR_INVALID_ARGS: 'maybe': say on or off"),
    ("set errors sometimes", "error: set: ZX_ERR_INVALID_ARGS: 'sometimes': say stop or continue"),
    ("set colour on", "error: set: ZX_ERR_NOT_FOUND: no setting 'colour' (data, time, color, timeout, errors)"),
    ("set data", "error: set: ZX_ERR_INVALID_ARGS: usage: set <name> <value>"),
    ("help nope", "error: help: ZX_ERR_NOT_FOUND: no command 'nope'"),
]


@pytest.mark.parametrize("cmds,message", ERRORS, ids=[c for c, _ in ERRORS])
def test_error_message(cmds, message):
    out = run(cmds, rc=1)
    line = error_line(out)
    assert line.startswith(message), f"{line!r} does not start with {message!r}"
    assert re.match(r"error: ([a-z ]+: )?ZX_(OK|ERR_[A-Z_]+)", line)


def test_sigterm_leaves_cleanly():
    p = subprocess.Popen([SHELL, "-c", ECHO + "; print ready; sleep 20"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env())
    assert p.stdout.readline().startswith("SendRequest")
    while "ready" not in p.stdout.readline():
        pass
    p.terminate()
    out = p.communicate(timeout=10)[0]
    assert p.returncode == 1
    assert "rst c1  1025 -> 2:7 (leaving)" in out
    assert "error: sleep: ZX_ERR_CANCELED: interrupted" in out
