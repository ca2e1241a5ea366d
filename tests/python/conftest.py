# SPDX-License-Identifier: MIT
"""Fixtures for the uvsock Python tests: a started device on the simulator."""
import os
import signal
import sys

import pytest

# Writes into sockets the device closed must fail with an error, not kill the test run.
signal.signal(signal.SIGPIPE, signal.SIG_IGN)

import uvsock  # noqa: E402  (PYTHONPATH=build/python, set by ctest)

SOURCE_DIR = os.environ.get(
    "UVSOCK_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
T = 10.0  # the longest any single step may take


@pytest.fixture
def dev():
    with uvsock.open("sim") as d:
        yield d


@pytest.fixture
def unstarted():
    with uvsock.open("sim", start=False) as d:
        yield d


def recv_exact(sock, n, timeout=T):
    """Reads exactly n bytes from sock (AssertionError on EOF)."""
    sock.settimeout(timeout)
    chunks, got = [], 0
    while got < n:
        b = sock.recv(min(n - got, 1 << 20))
        assert b, f"EOF after {got} of {n} bytes"
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def expect_eof(sock, timeout=T):
    """Reads until EOF (or a reset); returns the bytes seen before it."""
    sock.settimeout(timeout)
    data = bytearray()
    while True:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        if not b:
            return bytes(data)
        data += b
