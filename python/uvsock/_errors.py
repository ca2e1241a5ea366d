# SPDX-License-Identifier: MIT
"""Status codes and the exceptions that carry them."""

from __future__ import annotations

import enum
from typing import Dict, Optional, Type

from . import capi


class Status(enum.IntEnum):
    """Zircon ``zx_status_t`` values, as the C API returns them (``UVSOCK_*``)."""

    OK = capi.UVSOCK_OK
    ERR_INTERNAL = capi.UVSOCK_ERR_INTERNAL
    ERR_NOT_SUPPORTED = capi.UVSOCK_ERR_NOT_SUPPORTED
    ERR_NO_RESOURCES = capi.UVSOCK_ERR_NO_RESOURCES
    ERR_NO_MEMORY = capi.UVSOCK_ERR_NO_MEMORY
    ERR_INVALID_ARGS = capi.UVSOCK_ERR_INVALID_ARGS
    ERR_BAD_HANDLE = capi.UVSOCK_ERR_BAD_HANDLE
    ERR_WRONG_TYPE = capi.UVSOCK_ERR_WRONG_TYPE
    ERR_OUT_OF_RANGE = capi.UVSOCK_ERR_OUT_OF_RANGE
    ERR_BUFFER_TOO_SMALL = capi.UVSOCK_ERR_BUFFER_TOO_SMALL
    ERR_BAD_STATE = capi.UVSOCK_ERR_BAD_STATE
    ERR_TIMED_OUT = capi.UVSOCK_ERR_TIMED_OUT
    ERR_SHOULD_WAIT = capi.UVSOCK_ERR_SHOULD_WAIT
    ERR_CANCELED = capi.UVSOCK_ERR_CANCELED
    ERR_PEER_CLOSED = capi.UVSOCK_ERR_PEER_CLOSED
    ERR_NOT_FOUND = capi.UVSOCK_ERR_NOT_FOUND
    ERR_ALREADY_EXISTS = capi.UVSOCK_ERR_ALREADY_EXISTS
    ERR_ALREADY_BOUND = capi.UVSOCK_ERR_ALREADY_BOUND
    ERR_UNAVAILABLE = capi.UVSOCK_ERR_UNAVAILABLE
    ERR_ACCESS_DENIED = capi.UVSOCK_ERR_ACCESS_DENIED
    ERR_IO = capi.UVSOCK_ERR_IO

    @property
    def zx_name(self) -> str:
        """Zircon's name: ``"ZX_OK"``, ``"ZX_ERR_BAD_STATE"``, ..."""
        return capi.uvsock_status_str(int(self))


def status_str(status: int) -> str:
    """Zircon's name of any status value (``"ZX_ERR_<unknown>"`` outside the table)."""
    return capi.uvsock_status_str(int(status))


class Error(Exception):
    """Base of every error a uvsock call reports.

    ``status`` is the Zircon status value (an int, e.g. -20) and ``name`` its Zircon name
    (``"ZX_ERR_BAD_STATE"``). Each status has its own subclass (``BadState``, ``NotFound``...),
    so ``except uvsock.BadState`` catches exactly that code.
    """

    status: int = capi.UVSOCK_ERR_INTERNAL

    def __init__(self, message: str = "", status: Optional[int] = None) -> None:
        if status is not None:
            self.status = int(status)
        super().__init__(message or self.name)

    @property
    def name(self) -> str:
        """Zircon name of ``status``."""
        return status_str(self.status)


class Internal(Error):
    """ZX_ERR_INTERNAL (-1)."""

    status = capi.UVSOCK_ERR_INTERNAL


class NotSupported(Error):
    """ZX_ERR_NOT_SUPPORTED (-2): unknown URI scheme, a device lacking a required feature."""

    status = capi.UVSOCK_ERR_NOT_SUPPORTED


class NoResources(Error):
    """ZX_ERR_NO_RESOURCES (-3)."""

    status = capi.UVSOCK_ERR_NO_RESOURCES


class NoMemory(Error):
    """ZX_ERR_NO_MEMORY (-4)."""

    status = capi.UVSOCK_ERR_NO_MEMORY


class InvalidArgs(Error, ValueError):
    """ZX_ERR_INVALID_ARGS (-10): a malformed URI, a zero-length VMO, a reserved CID..."""

    status = capi.UVSOCK_ERR_INVALID_ARGS


class BadHandle(Error):
    """ZX_ERR_BAD_HANDLE (-11): the fd is not open."""

    status = capi.UVSOCK_ERR_BAD_HANDLE


class WrongType(Error):
    """ZX_ERR_WRONG_TYPE (-12): not an AF_UNIX stream socket, or a VMO fd that cannot pread."""

    status = capi.UVSOCK_ERR_WRONG_TYPE


class OutOfRange(Error):
    """ZX_ERR_OUT_OF_RANGE (-14): off+len past the end of a VMO file."""

    status = capi.UVSOCK_ERR_OUT_OF_RANGE


class BufferTooSmall(Error):
    """ZX_ERR_BUFFER_TOO_SMALL (-15)."""

    status = capi.UVSOCK_ERR_BUFFER_TOO_SMALL


class BadState(Error):
    """ZX_ERR_BAD_STATE (-20): before Start, unknown or shutting-down connection, busy VMO."""

    status = capi.UVSOCK_ERR_BAD_STATE


class TimedOut(Error, TimeoutError):
    """ZX_ERR_TIMED_OUT (-21): nothing arrived in time (also a builtin ``TimeoutError``)."""

    status = capi.UVSOCK_ERR_TIMED_OUT


class ShouldWait(Error):
    """ZX_ERR_SHOULD_WAIT (-22)."""

    status = capi.UVSOCK_ERR_SHOULD_WAIT


class Canceled(Error):
    """ZX_ERR_CANCELED (-23)."""

    status = capi.UVSOCK_ERR_CANCELED


class PeerClosed(Error):
    """ZX_ERR_PEER_CLOSED (-24)."""

    status = capi.UVSOCK_ERR_PEER_CLOSED


class NotFound(Error):
    """ZX_ERR_NOT_FOUND (-25): no connection (or listener) with that address."""

    status = capi.UVSOCK_ERR_NOT_FOUND


class AlreadyExists(Error):
    """ZX_ERR_ALREADY_EXISTS (-26): e.g. a sim listener already on that port."""

    status = capi.UVSOCK_ERR_ALREADY_EXISTS


class AlreadyBound(Error):
    """ZX_ERR_ALREADY_BOUND (-27): the address is in use by another connection."""

    status = capi.UVSOCK_ERR_ALREADY_BOUND


class Unavailable(Error):
    """ZX_ERR_UNAVAILABLE (-28)."""

    status = capi.UVSOCK_ERR_UNAVAILABLE


class AccessDenied(Error):
    """ZX_ERR_ACCESS_DENIED (-30)."""

    status = capi.UVSOCK_ERR_ACCESS_DENIED


class IO(Error):
    """ZX_ERR_IO (-40): a transport failure, a capture file that cannot be written."""

    status = capi.UVSOCK_ERR_IO


class DeviceClosed(BadState, ValueError):
    """The Device (or its sim) was used after ``close()``; also a ``ValueError``."""

    def __init__(self, message: str = "device is closed") -> None:
        super().__init__(message)


ERRORS: Dict[int, Type[Error]] = {
    cls.status: cls
    for cls in (Internal, NotSupported, NoResources, NoMemory, InvalidArgs, BadHandle,
                WrongType, OutOfRange, BufferTooSmall, BadState, TimedOut, ShouldWait,
                Canceled, PeerClosed, NotFound, AlreadyExists, AlreadyBound, Unavailable,
                AccessDenied, IO)
}


def error_for(status: int, what: str = "") -> Error:
    """The exception for ``status``: its subclass, or ``Error`` for a value outside the table."""
    name = status_str(status)
    message = f"{what}: {name}" if what else name
    cls = ERRORS.get(int(status))
    if cls is None:
        return Error(message, status)
    return cls(message)


def check(status: int, what: str = "") -> None:
    """Raises the matching :class:`Error` unless ``status`` is ``UVSOCK_OK``."""
    if status != capi.UVSOCK_OK:
        raise error_for(status, what)
