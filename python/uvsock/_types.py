# SPDX-License-Identifier: MIT
"""Addresses, events (one dataclass per FIDL callback) and statistics records."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, List, Optional, Type, TypeVar

from . import capi

U32_MAX = 0xFFFFFFFF

#: Well-known CIDs (fuchsia.hardware.vsock).
CID_HYPERVISOR = capi.UVSOCK_CID_HYPERVISOR
CID_LOCAL = capi.UVSOCK_CID_LOCAL
CID_HOST = capi.UVSOCK_CID_HOST
CID_ANY = capi.UVSOCK_CID_ANY


def u32(value: Any, what: str) -> int:
    """``value`` as a 32-bit unsigned int: TypeError for a non-int, ValueError out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= U32_MAX:
        raise ValueError(f"{what} must be in [0, 2**32), got {value}")
    return int(value)


@dataclass(frozen=True)
class Addr:
    """fuchsia.hardware.vsock.Addr: ``local_port`` is this driver's port, ``remote_cid`` and
    ``remote_port`` the device side's. Hashable, comparable, printable; every field is a
    32-bit unsigned int (TypeError/ValueError otherwise)."""

    local_port: int
    remote_cid: int
    remote_port: int

    def __post_init__(self) -> None:
        for f in ("local_port", "remote_cid", "remote_port"):
            u32(getattr(self, f), f)

    def __str__(self) -> str:
        return f"{{{self.local_port}, {self.remote_cid}, {self.remote_port}}}"

    def _to_c(self) -> Any:
        a = capi.uvsock_addr()
        a.local_port = self.local_port
        a.remote_cid = self.remote_cid
        a.remote_port = self.remote_port
        return a

    @classmethod
    def _from_c(cls, a: Any) -> "Addr":
        return cls(a.local_port, a.remote_cid, a.remote_port)


def as_addr(value: Any) -> Addr:
    """An :class:`Addr` from an Addr or a ``(local_port, remote_cid, remote_port)`` tuple."""
    if isinstance(value, Addr):
        return value
    if isinstance(value, tuple) and len(value) == 3:
        return Addr(*value)
    raise TypeError(f"expected uvsock.Addr or a 3-tuple, not {type(value).__name__}")


@dataclass(frozen=True)
class Event:
    """Base of the six callback events. ``seq`` numbers events 1, 2, ... in the order the
    callbacks ran; ``time_ns`` is CLOCK_MONOTONIC (``time.monotonic_ns()``) when it ran."""

    seq: int = field(default=0, compare=False, kw_only=True)
    time_ns: int = field(default=0, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class _AddrEvent(Event):
    addr: Addr


@dataclass(frozen=True)
class Request(_AddrEvent):
    """Callbacks.Request(addr): the peer asks to connect; answer with send_response or
    send_rst."""


@dataclass(frozen=True)
class Response(_AddrEvent):
    """Callbacks.Response(addr): our SendRequest was accepted; the connection is open."""


@dataclass(frozen=True)
class Rst(_AddrEvent):
    """Callbacks.Rst(addr): the connection was refused or reset; it is gone."""


@dataclass(frozen=True)
class Shutdown(_AddrEvent):
    """Callbacks.Shutdown(addr): the peer shut the connection down; answer with send_rst."""


@dataclass(frozen=True)
class SendVmoComplete(_AddrEvent):
    """Callbacks.SendVmoComplete(addr): the device consumed the last byte of a send_vmo."""


@dataclass(frozen=True)
class TransportReset(Event):
    """Callbacks.TransportReset(new_cid): every connection was dropped; the CID is now
    ``new_cid``."""

    new_cid: int


_EVENT_TYPES = {
    capi.UVSOCK_EVENT_REQUEST: Request,
    capi.UVSOCK_EVENT_RESPONSE: Response,
    capi.UVSOCK_EVENT_RST: Rst,
    capi.UVSOCK_EVENT_SHUTDOWN: Shutdown,
    capi.UVSOCK_EVENT_SEND_VMO_COMPLETE: SendVmoComplete,
}


def event_from_c(ev: Any) -> Event:
    """Converts a ``capi.uvsock_event`` into its dataclass."""
    if ev.type == capi.UVSOCK_EVENT_TRANSPORT_RESET:
        return TransportReset(seq=ev.seq, time_ns=ev.time_ns, new_cid=ev.new_cid)
    cls = _EVENT_TYPES[ev.type]
    return cls(seq=ev.seq, time_ns=ev.time_ns, addr=Addr._from_c(ev.addr))


# ------------------------------------------------------------------------- statistics ----

T = TypeVar("T")


def _from_struct(cls: Type[T], s: Any, **extra: Any) -> T:
    values = {f.name: getattr(s, f.name) for f in dataclasses.fields(cls)  # type: ignore
              if f.name not in extra}
    values.update(extra)
    return cls(**values)


@dataclass(frozen=True)
class ConnInfo:
    """One connection's state and counters (``uvsock_conn_info``): why it is stalled, our
    receive side as we advertise it, the peer's as it last told us. Times are
    CLOCK_MONOTONIC ns, 0 for never."""

    addr: Addr
    state: str  #: wait_response, active, will_shut_down, shutting_down, peer_shut_down
    blocked_on: str  #: nothing, response, peer_credit, tx_ring, user_read
    buf_alloc: int
    fwd_cnt: int
    rx_cnt: int
    last_fwd_cnt_sent: int
    held: int
    sock_unread: int
    peer_buf_alloc: int
    peer_fwd_cnt: int
    tx_cnt: int
    in_flight: int
    peer_free: int
    peer_shutdown: int
    bytes_sent: int
    bytes_received: int
    vmo_remaining: int
    credit_update_sent_ns: int
    credit_update_recv_ns: int
    credit_request_sent_ns: int
    credit_request_recv_ns: int
    blocked_since_ns: int
    created_ns: int

    @classmethod
    def _from_c(cls, s: Any) -> "ConnInfo":
        return _from_struct(cls, s, addr=Addr._from_c(s.addr),
                            state=capi.uvsock_conn_state_str(s.state),
                            blocked_on=capi.uvsock_blocked_on_str(s.blocked_on))


@dataclass(frozen=True)
class VqInfo:
    """One virtqueue's indices and counters."""

    name: str
    size: int
    num_free: int
    avail_idx: int
    used_idx: int
    last_used_idx: int
    used_event: int
    avail_event: int
    kicks: int
    kicks_suppressed: int
    interrupts: int
    bad_used: int


@dataclass(frozen=True)
class DevInfo:
    """Device counters (``uvsock_dev_info``) and its three virtqueues (rx, tx, event)."""

    uri: str
    cid: int
    started: bool
    features: int
    connections: int
    interrupts: int
    config_changes: int
    transport_resets: int
    packets_sent: int
    packets_received: int
    rst_sent: int
    malformed_dropped: int
    unknown_conn_rst: int
    vq: List[VqInfo]

    @classmethod
    def _from_c(cls, s: Any) -> "DevInfo":
        vqs = [_from_struct(VqInfo, s.get_vq(i)) for i in range(3)]
        return _from_struct(cls, s, vq=vqs, started=bool(s.started))


@dataclass(frozen=True)
class SimPacket:
    """A raw packet header (``uvsock_sim_packet``), for ``Sim.send_raw`` and
    ``SimStats.last_rst_from_driver``."""

    src_cid: int = 2
    dst_cid: int = 3
    src_port: int = 0
    dst_port: int = 0
    hdr_len: Optional[int] = None  #: None: the payload's length
    type: int = 1  #: VIRTIO_VSOCK_TYPE_STREAM
    op: int = 0
    flags: int = 0
    buf_alloc: int = 0
    fwd_cnt: int = 0

    @classmethod
    def _from_c(cls, s: Any) -> "SimPacket":
        return _from_struct(cls, s)


@dataclass(frozen=True)
class SimStats:
    """What the simulated device's host side saw (``uvsock_sim_get_stats``). ``op_from_driver``
    is indexed by op: INVALID, REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE,
    CREDIT_REQUEST."""

    packets_from_driver: int
    packets_to_driver: int
    op_from_driver: List[int]
    bad_from_driver: int
    credit_violations: int
    notifies: int
    interrupts: int
    interrupts_suppressed: int
    rx_waits: int
    host_connections: int
    last_rst_from_driver: SimPacket

    @classmethod
    def _from_c(cls, s: Any) -> "SimStats":
        return _from_struct(cls, s, op_from_driver=[s.get_op_from_driver(i) for i in range(8)],
                            last_rst_from_driver=SimPacket._from_c(s.last_rst_from_driver))


@dataclass(frozen=True)
class CaptureStats:
    """The packet capture's counters (``uvsock_capture_stats``)."""

    active: bool
    packets: int
    bytes: int
    dropped: int
    error: int

    @classmethod
    def _from_c(cls, s: Any) -> "CaptureStats":
        return _from_struct(cls, s, active=bool(s.active))
