# SPDX-License-Identifier: MIT
"""The simulated device's host side (CID 2) and fault injection: ``dev.sim``."""

from __future__ import annotations

import enum
import socket
import time
from typing import TYPE_CHECKING, Any, Optional, Tuple

from . import capi
from ._errors import TimedOut, check
from ._types import SimPacket, SimStats, u32

if TYPE_CHECKING:
    from ._device import Device


class Fault(enum.IntEnum):
    """One-shot faults for :meth:`Sim.inject`, applied to the next packet to a guest port."""

    NONE = capi.UVSOCK_SIM_FAULT_NONE
    DROP = capi.UVSOCK_SIM_FAULT_DROP
    DUPLICATE = capi.UVSOCK_SIM_FAULT_DUPLICATE
    BAD_TYPE = capi.UVSOCK_SIM_FAULT_BAD_TYPE
    BAD_OP = capi.UVSOCK_SIM_FAULT_BAD_OP
    BAD_LEN = capi.UVSOCK_SIM_FAULT_BAD_LEN
    SHORT = capi.UVSOCK_SIM_FAULT_SHORT
    BAD_DST_CID = capi.UVSOCK_SIM_FAULT_BAD_DST_CID
    USED_BAD_ID = capi.UVSOCK_SIM_FAULT_USED_BAD_ID
    USED_BAD_LEN = capi.UVSOCK_SIM_FAULT_USED_BAD_LEN
    USED_DUP_ID = capi.UVSOCK_SIM_FAULT_USED_DUP_ID


#: Host services on CID 2.
ECHO_PORT = 7
DISCARD_PORT = 9
SOURCE_PORT = 19


def source_bytes(off: int, n: int) -> bytes:
    """``n`` bytes of the source service's stream (port 19) from offset ``off``."""
    return bytes(((o * 7) + (o >> 8)) & 0xFF for o in range(off, off + n))


def _host_socket(fd: int) -> socket.socket:
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)


class Sim:
    """The host side of the simulated device (``dev.sim``), on CID 2: services echo (7),
    discard (9) and source (19), host-initiated connections, host listeners, transport
    resets, host credit, fault injection and raw packets. Valid while its Device is open."""

    def __init__(self, device: "Device", ptr: Any) -> None:
        self._device = device
        self._ptr = ptr

    def _call(self, fn: Any, *args: Any) -> Any:
        with self._device._guard.use():
            return fn(self._ptr, *args)

    def transport_reset(self, new_cid: int = 0) -> None:
        """The device changes its CID to ``new_cid`` (0 keeps it), drops every host connection
        and sends TRANSPORT_RESET. InvalidArgs for a reserved CID (1, 2, 2**32-1)."""
        check(self._call(capi.uvsock_sim_transport_reset, u32(new_cid, "new_cid")),
              "sim.transport_reset")

    def set_cid(self, new_cid: int) -> None:
        """Changes guest_cid in config space (a config-change interrupt, no reset event)."""
        check(self._call(capi.uvsock_sim_set_cid, u32(new_cid, "new_cid")), "sim.set_cid")

    def connect(self, guest_port: int, host_port: int = 0) -> Tuple[socket.socket, int]:
        """A host-initiated connection: the host sends REQUEST from ``host_port`` (0: one from
        2**30) to ``guest_port``; the driver sees a :class:`uvsock.Request`. Returns the host
        program's end (bytes flow once the driver answers with send_response) and the port."""
        st, fd, port = self._call(capi.uvsock_sim_connect, u32(guest_port, "guest_port"),
                                  u32(host_port, "host_port"))
        check(st, f"sim.connect({guest_port}, {host_port})")
        return _host_socket(fd), int(port)

    def listen(self, host_port: int) -> None:
        """A host listener on ``host_port``: the driver's Requests to it are answered."""
        check(self._call(capi.uvsock_sim_listen, u32(host_port, "host_port")),
              f"sim.listen({host_port})")

    def unlisten(self, host_port: int) -> None:
        """Removes a host listener (NotFound if there is none)."""
        check(self._call(capi.uvsock_sim_unlisten, u32(host_port, "host_port")),
              f"sim.unlisten({host_port})")

    def accept(self, host_port: int,
               timeout: Optional[float] = 10.0) -> Tuple[socket.socket, int]:
        """The next connection accepted by the listener on ``host_port``: the host program's
        end and the driver's port. Raises TimedOut, NotFound without a listener."""
        from ._device import _deadline, _slice_ms
        port = u32(host_port, "host_port")
        deadline = _deadline(timeout)
        while True:
            st, fd, guest_port = self._call(capi.uvsock_sim_accept, port, _slice_ms(deadline))
            if st == capi.UVSOCK_OK:
                return _host_socket(fd), int(guest_port)
            if st != capi.UVSOCK_ERR_TIMED_OUT:
                check(st, f"sim.accept({host_port})")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimedOut(f"sim.accept({host_port}): nothing within {timeout} s")

    def set_host_credit(self, buf_alloc: int) -> None:
        """The buf_alloc the host advertises from now on (InvalidArgs for 0)."""
        check(self._call(capi.uvsock_sim_set_host_credit, u32(buf_alloc, "buf_alloc")),
              "sim.set_host_credit")

    def inject(self, fault: Fault, guest_port: int = 0) -> None:
        """Arms ``fault`` for the next packet delivered to ``guest_port`` (0: any)."""
        if isinstance(fault, bool) or not isinstance(fault, int):
            raise TypeError("fault must be a uvsock.Fault")
        check(self._call(capi.uvsock_sim_inject, int(fault), u32(guest_port, "guest_port")),
              f"sim.inject({fault})")

    @property
    def fault_pending(self) -> bool:
        """True while an armed fault has not fired yet."""
        return bool(self._call(capi.uvsock_sim_fault_pending))

    def send_raw(self, packet: SimPacket, payload: bytes = b"") -> None:
        """Delivers any packet to the driver, as a hostile device would."""
        if not isinstance(packet, SimPacket):
            raise TypeError("packet must be a uvsock.SimPacket")
        p = capi.uvsock_sim_packet()
        hdr_len = len(payload) if packet.hdr_len is None else packet.hdr_len
        for name, bits in (("src_cid", 64), ("dst_cid", 64), ("src_port", 32), ("dst_port", 32),
                           ("type", 16), ("op", 16), ("flags", 32), ("buf_alloc", 32),
                           ("fwd_cnt", 32)):
            v = getattr(packet, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << bits):
                raise ValueError(f"packet.{name} must be a {bits}-bit unsigned int")
            setattr(p, name, v)
        p.hdr_len = u32(hdr_len, "packet.hdr_len")
        check(self._call(capi.uvsock_sim_send_raw, p, payload), "sim.send_raw")

    def stats(self) -> SimStats:
        """What the host side has seen (packets by op, credit violations, last RST...)."""
        s = capi.uvsock_sim_stats()
        check(self._call(capi.uvsock_sim_get_stats, s), "sim.stats")
        return SimStats._from_c(s)

    source_bytes = staticmethod(source_bytes)

    def __repr__(self) -> str:
        return f"<uvsock.Sim of {self._device!r}>"
