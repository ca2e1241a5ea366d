# SPDX-License-Identifier: MIT
"""uvsock: drive a virtio-vsock device from Python through the fuchsia.hardware.vsock.Device
protocol.

    import uvsock

    with uvsock.open("sim") as dev:               # the built-in simulated device
        s = dev.connect(uvsock.CID_HOST, 7)       # SendRequest + wait for Response
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"               # the sim's echo service

The FIDL calls are :class:`Device` methods (``start``, ``send_request``, ``send_response``,
``send_shutdown``, ``send_rst``, ``get_cid``, ``send_vmo``); the Callbacks are event
dataclasses (:class:`Request`, :class:`Response`, :class:`Rst`, :class:`Shutdown`,
:class:`TransportReset`, :class:`SendVmoComplete`); each status code is an :class:`Error`
subclass. The C API itself is :mod:`uvsock.capi` (SWIG). See docs/python.md.
"""

from __future__ import annotations

import atexit
import enum
import logging
from typing import Callable, Optional, Union

from . import capi
from ._device import Connection, Device, Listener, open
from ._errors import (ERRORS, IO, AccessDenied, AlreadyBound, AlreadyExists, BadHandle, BadState,
                      BufferTooSmall, Canceled, DeviceClosed, Error, Internal, InvalidArgs,
                      NoMemory, NoResources, NotFound, NotSupported, OutOfRange, PeerClosed,
                      ShouldWait, Status, TimedOut, Unavailable, WrongType, status_str)
from ._sim import DISCARD_PORT, ECHO_PORT, SOURCE_PORT, Fault, Sim, source_bytes
from ._types import (CID_ANY, CID_HOST, CID_HYPERVISOR, CID_LOCAL, Addr, CaptureStats, ConnInfo,
                     DevInfo, Event, Request, Response, Rst, SendVmoComplete, Shutdown, SimPacket,
                     SimStats, TransportReset, VqInfo)

__all__ = [
    "open", "Device", "Connection", "Listener", "Sim", "Fault", "Addr", "Event", "Request",
    "Response", "Rst", "Shutdown", "TransportReset", "SendVmoComplete", "ConnInfo", "DevInfo",
    "VqInfo", "SimPacket", "SimStats", "CaptureStats", "Status", "status_str", "Error",
    "Internal", "NotSupported", "NoResources", "NoMemory", "InvalidArgs", "BadHandle",
    "WrongType", "OutOfRange", "BufferTooSmall", "BadState", "TimedOut", "ShouldWait",
    "Canceled", "PeerClosed", "NotFound", "AlreadyExists", "AlreadyBound", "Unavailable",
    "AccessDenied", "IO", "DeviceClosed", "ERRORS", "CID_HYPERVISOR", "CID_LOCAL", "CID_HOST",
    "CID_ANY", "ECHO_PORT", "DISCARD_PORT", "SOURCE_PORT", "source_bytes", "LogLevel",
    "set_log", "set_log_level", "get_log_level", "log_to_logging", "capi",
]

__version__ = "0.1.0"


class LogLevel(enum.IntEnum):
    """The library's log levels (``UVSOCK_LOG_*``)."""

    ERROR = capi.UVSOCK_LOG_ERROR
    WARN = capi.UVSOCK_LOG_WARN
    INFO = capi.UVSOCK_LOG_INFO
    DEBUG = capi.UVSOCK_LOG_DEBUG


def set_log(fn: Optional[Callable[[LogLevel, str], object]]) -> None:
    """Installs ``fn(level, message)`` as the process-wide log function (None removes it).
    It runs on the library's threads, sometimes with a device lock held: it must be quick and
    must not call into uvsock. Exceptions it raises are reported as unraisable."""
    if fn is None:
        capi.uvsock_py_set_log(None)
        return
    if not callable(fn):
        raise TypeError("log function must be callable or None")

    def call(level: int, msg: str) -> None:
        fn(LogLevel(level), msg)

    capi.uvsock_py_set_log(call)


def set_log_level(level: Union[LogLevel, int, str]) -> None:
    """Messages up to ``level`` (a LogLevel, 0..3, or "error"/"warn"/"info"/"debug") reach the
    log function. The initial level is $UVSOCK_LOG, else warn."""
    if isinstance(level, str):
        parsed = capi.uvsock_log_level_parse(level)
        if parsed < 0:
            raise ValueError(f"unknown log level {level!r}")
        level = parsed
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError("level must be a LogLevel, an int or a level name")
    if not LogLevel.ERROR <= level <= LogLevel.DEBUG:
        raise ValueError(f"log level must be 0..3, got {level}")
    capi.uvsock_set_log_level(int(level))


def get_log_level() -> LogLevel:
    """The current log level."""
    return LogLevel(capi.uvsock_get_log_level())


_PY_LEVELS = {LogLevel.ERROR: logging.ERROR, LogLevel.WARN: logging.WARNING,
              LogLevel.INFO: logging.INFO, LogLevel.DEBUG: logging.DEBUG}


def log_to_logging(logger: Union[str, logging.Logger] = "uvsock") -> logging.Logger:
    """Sends the library's messages to a :mod:`logging` logger (default ``"uvsock"``)."""
    lg = logging.getLogger(logger) if isinstance(logger, str) else logger
    set_log(lambda level, msg: lg.log(_PY_LEVELS[level], "%s", msg))
    return lg


# The library's threads must not call into Python while the interpreter is finalizing.
atexit.register(capi.uvsock_py_set_log, None)
