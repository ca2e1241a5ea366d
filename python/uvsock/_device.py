# SPDX-License-Identifier: MIT
"""The Device: the FIDL calls, events, helpers for test writers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import socket
import threading
import time
from typing import (Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple, Type, Union,
                    TYPE_CHECKING)

from . import capi
from ._errors import DeviceClosed, TimedOut, check, error_for
from ._types import (Addr, CaptureStats, ConnInfo, DevInfo, Event, Request, Response, Rst,
                     as_addr, event_from_c, u32)

if TYPE_CHECKING:
    from ._sim import Sim

#: What send_request/send_response accept: a socket.socket (one end of socket.socketpair())
#: or a raw fd.
SocketLike = Union[socket.socket, int]
#: What send_vmo accepts: bytes-like data, a file object with fileno(), or a raw fd.
VmoLike = Union[bytes, bytearray, memoryview, int, Any]
EventTypes = Union[Type[Event], Tuple[Type[Event], ...]]

DEFAULT_TIMEOUT = 10.0
_SLICE_MS = 100  # longest a C wait lasts, so close() never waits long for a blocked thread
_U64_MAX = (1 << 64) - 1


def _check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__}")
    if timeout != timeout or timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    return float(timeout)


def _deadline(timeout: Optional[float]) -> Optional[float]:
    t = _check_timeout(timeout)
    return None if t is None else time.monotonic() + t


def _slice_ms(deadline: Optional[float]) -> int:
    """Milliseconds to wait in one C call: at most _SLICE_MS, 0 once the deadline passed."""
    if deadline is None:
        return _SLICE_MS
    left = deadline - time.monotonic()
    return 0 if left <= 0 else min(_SLICE_MS, max(1, int(left * 1000)))


def _u64(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{what} must be in [0, 2**64), got {value}")
    return value


def _fd_arg(fd: Any, what: str) -> int:
    if isinstance(fd, bool) or not isinstance(fd, int):
        raise TypeError(f"{what} must be a socket.socket or an int fd, not {type(fd).__name__}")
    if not -(1 << 31) <= fd < (1 << 31):
        raise ValueError(f"{what}: fd {fd} out of range")
    return fd


class _Guard:
    """Counts C calls in progress on a device so close() frees it only once none runs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._users = 0
        self.closed = False

    @contextlib.contextmanager
    def use(self) -> Iterator[None]:
        with self._cond:
            if self.closed:
                raise DeviceClosed()
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if not self._users:
                    self._cond.notify_all()

    def close(self) -> bool:
        """Marks closed and waits for calls in progress; False if it was closed already."""
        with self._cond:
            if self.closed:
                return False
            self.closed = True
            while self._users:
                self._cond.wait()
            return True


class Connection(socket.socket):
    """A connected vsock stream as seen by a test: the user's end of the socketpair whose
    other end the device owns. A plain ``socket.socket`` plus ``addr`` (the connection's
    :class:`Addr`) and ``device``."""

    addr: Addr
    device: "Device"

    @classmethod
    def _wrap(cls, sock: socket.socket, device: "Device", addr: Addr) -> "Connection":
        conn = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        conn.addr = addr
        conn.device = device
        return conn

    def shutdown_vsock(self) -> None:
        """SendShutdown for this connection (bytes already written are still sent)."""
        self.device.send_shutdown(self.addr)

    def rst(self) -> None:
        """SendRst for this connection."""
        self.device.send_rst(self.addr)


class Listener:
    """Answers Requests to one local port; made by :meth:`Device.listen`."""

    def __init__(self, device: "Device", port: int) -> None:
        self.device = device
        self.port = u32(port, "port")
        self.closed = False

    def accept(self, timeout: Optional[float] = DEFAULT_TIMEOUT) -> Tuple[Connection, Addr]:
        """Waits for a Request to ``port``, answers it with SendResponse and returns
        ``(socket, addr)``. Raises :class:`uvsock.TimedOut` when none arrives in time."""
        if self.closed:
            raise ValueError("listener is closed")
        ev = self.device.wait_for(
            Request, timeout=timeout, match=lambda e: e.addr.local_port == self.port)
        user, dev_end = socket.socketpair()
        try:
            self.device.send_response(ev.addr, dev_end)
        except BaseException:
            user.close()
            dev_end.close()
            raise
        return Connection._wrap(user, self.device, ev.addr), ev.addr

    def close(self) -> None:
        """Stops accepting (Requests still queued stay for next_event)."""
        self.closed = True

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<uvsock.Listener port={self.port}{' closed' if self.closed else ''}>"


class Device:
    """A virtio-vsock device driven by uvsock, offering fuchsia.hardware.vsock.Device.

    Open one with :func:`uvsock.open` (``uvsock.open("sim")`` is the built-in simulated
    device). Use it as a context manager, or call :meth:`close`.

    The FIDL calls are methods with the same names: :meth:`start`, :meth:`send_request`,
    :meth:`send_response`, :meth:`send_shutdown`, :meth:`send_rst`, :meth:`get_cid`,
    :meth:`send_vmo`. Each raises the :class:`uvsock.Error` subclass of the status the C call
    returned (``BadState``, ``AlreadyBound``...).

    The FIDL Callbacks arrive as events (:class:`Request`, :class:`Response`, :class:`Rst`,
    :class:`Shutdown`, :class:`TransportReset`, :class:`SendVmoComplete`): read them with
    :meth:`next_event`, :meth:`events`, :meth:`wait_for`, or register handlers with :meth:`on`
    and run them with :meth:`dispatch`. :meth:`fileno` is readable when events are queued, for
    selectors and asyncio.

    Helpers built on those calls: :meth:`connect`, :meth:`listen`, :attr:`sim` (the simulated
    device's host side and fault injection), :meth:`conn_info`, :meth:`info`, capture.

    Every method is thread-safe; blocking ones release the GIL.
    """

    def __init__(self, uri: Optional[str] = "sim", start: bool = True) -> None:
        """Opens the device at ``uri`` (``"sim"``, ``"sim:cid=5,uds=/run/v.sock"``,
        ``"uio:0000:00:04.0"``) and, unless ``start=False``, calls :meth:`start`."""
        self._guard = _Guard()
        self._dev: Any = None
        self._q: Any = None
        if uri is None:
            uri = "sim"
        if not isinstance(uri, str):
            raise TypeError(f"uri must be a str, not {type(uri).__name__}")
        if "\0" in uri:
            raise ValueError("uri contains a NUL character")
        self.uri = uri
        st, dev = capi.uvsock_open(uri)
        if st != capi.UVSOCK_OK:
            reason = capi.uvsock_last_error()
            raise error_for(st, f"open {uri!r}" + (f" ({reason})" if reason else ""))
        st, q = capi.uvsock_event_queue_new()
        if st != capi.UVSOCK_OK:
            capi.uvsock_close(dev)
            raise error_for(st, "event queue")
        self._dev, self._q = dev, q
        self._cond = threading.Condition()
        self._pending: Deque[Event] = collections.deque()
        self._reading = False
        self._handlers: Dict[Type[Event], List[Callable[[Event], Any]]] = {}
        self._port_lock = threading.Lock()
        self._next_port = itertools.cycle(range(49152, 65536))
        self._sim: Optional["Sim"] = None
        sim_ptr = capi.uvsock_sim(dev)
        if sim_ptr is not None:
            from ._sim import Sim
            self._sim = Sim(self, sim_ptr)
        if start:
            self.start()

    # ------------------------------------------------------------------ life --

    def close(self) -> None:
        """Resets every connection (RST to the peer), stops and frees the device. Threads
        blocked in this device's calls wake up with :class:`uvsock.DeviceClosed`. Calling
        close twice is harmless."""
        guard = getattr(self, "_guard", None)
        if guard is None or self._dev is None:
            return
        if not guard.close():
            return
        with self._cond:
            self._cond.notify_all()
        dev, q = self._dev, self._q
        self._dev = self._q = None
        capi.uvsock_close(dev)
        capi.uvsock_event_queue_free(q)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._guard.closed

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        if self.closed:
            return f"<uvsock.Device {self.uri!r} closed>"
        return f"<uvsock.Device {self.uri!r} cid={self.get_cid()}>"

    # ----------------------------------------------------------- FIDL calls --

    def start(self) -> None:
        """Start(callbacks): starts receiving; Callbacks become this Device's events. A second
        start resets every existing connection (as the Fuchsia driver does) and discards
        events not read yet."""
        with self._guard.use():
            check(capi.uvsock_start_event_queue(self._dev, self._q), "start")
        with self._cond:
            self._pending.clear()

    def _hand_over(self, fn: Callable[..., int], addr: Any, sock: SocketLike, what: str) -> None:
        a = as_addr(addr)
        if isinstance(sock, socket.socket):
            if sock.fileno() < 0:
                raise ValueError(f"{what}: the socket is closed")
            fd = os.dup(sock.fileno())
            try:
                with self._guard.use():
                    st = fn(self._dev, a._to_c(), fd)
            except BaseException:
                os.close(fd)
                raise
            if st != capi.UVSOCK_OK:
                os.close(fd)
                check(st, f"{what}({a})")
            # The device owns the duplicate now; the caller's object must not keep the
            # connection open behind its back.
            sock.close()
            return
        fd = _fd_arg(sock, what)
        with self._guard.use():
            st = fn(self._dev, a._to_c(), fd)
        check(st, f"{what}({a})")

    def send_request(self, addr: Union[Addr, Tuple[int, int, int]], sock: SocketLike) -> None:
        """SendRequest(addr, socket): connect to ``addr.remote_cid:addr.remote_port`` from
        ``addr.local_port``. ``sock`` is one end of ``socket.socketpair()``: on success the
        device owns it (a ``socket.socket`` is closed here, its fd lives on in the device; a
        raw fd becomes the device's); on error the caller keeps it. A :class:`Response` (or
        :class:`Rst`) event follows. Raises BadHandle, WrongType, BadState, AlreadyBound."""
        self._hand_over(capi.uvsock_send_request, addr, sock, "send_request")

    def send_response(self, addr: Union[Addr, Tuple[int, int, int]], sock: SocketLike) -> None:
        """SendResponse(addr, socket): accept a :class:`Request`. Ownership and errors as in
        :meth:`send_request`."""
        self._hand_over(capi.uvsock_send_response, addr, sock, "send_response")

    def send_shutdown(self, addr: Union[Addr, Tuple[int, int, int]]) -> None:
        """SendShutdown(addr): graceful close. Bytes already written into the socket are still
        sent, then SHUTDOWN. Raises BadState before start, for an unknown address or one
        already shutting down."""
        a = as_addr(addr)
        with self._guard.use():
            check(capi.uvsock_send_shutdown(self._dev, a._to_c()), f"send_shutdown({a})")

    def send_rst(self, addr: Union[Addr, Tuple[int, int, int]]) -> None:
        """SendRst(addr): abort; an RST goes out whether or not the address is known."""
        a = as_addr(addr)
        with self._guard.use():
            check(capi.uvsock_send_rst(self._dev, a._to_c()), f"send_rst({a})")

    def get_cid(self) -> int:
        """GetCid(): the device's guest CID (re-read on a transport reset)."""
        with self._guard.use():
            return int(capi.uvsock_get_cid(self._dev))

    @property
    def cid(self) -> int:
        """The device's guest CID (:meth:`get_cid`)."""
        return self.get_cid()

    def send_vmo(self, addr: Union[Addr, Tuple[int, int, int]], data: VmoLike, off: int = 0,
                 length: Optional[int] = None) -> None:
        """SendVmo(addr, vmo, off, len): send ``length`` bytes of ``data`` from ``off``, before
        socket data still queued; a :class:`SendVmoComplete` event follows.

        ``data`` is bytes-like (copied into a memfd), a file object with ``fileno()`` or a raw
        readable fd (the device duplicates it; the caller keeps its own). ``length`` defaults
        to the rest of the data or file. Raises BadState (before start, another VMO pending,
        shutting down), NotFound, InvalidArgs (length 0), BadHandle, WrongType, OutOfRange."""
        a = as_addr(addr)
        off = _u64(off, "off")
        if length is not None:
            length = _u64(length, "length")
        if isinstance(data, (bytes, bytearray, memoryview)):
            view = memoryview(data).cast("B")
            if length is None:
                if off > len(view):
                    raise ValueError(f"off {off} is past the end of the data ({len(view)})")
                length = len(view) - off
            fd = os.memfd_create("uvsock-vmo", os.MFD_CLOEXEC)
            try:
                done = 0
                while done < len(view):
                    done += os.write(fd, view[done:])
                self._send_vmo_fd(a, fd, off, length)
            finally:
                os.close(fd)
            return
        if isinstance(data, bool):
            raise TypeError("vmo must be bytes-like, a file object or an fd, not bool")
        if isinstance(data, int):
            fd = _fd_arg(data, "vmo")
        elif hasattr(data, "fileno"):
            if hasattr(data, "flush"):
                data.flush()
            fd = data.fileno()
        else:
            raise TypeError(f"vmo must be bytes-like, a file object or an fd, not "
                            f"{type(data).__name__}")
        if length is None:
            try:
                size = os.fstat(fd).st_size
            except OSError:
                size = 0  # let the device report BAD_HANDLE
            length = max(0, size - off)
        self._send_vmo_fd(a, fd, off, length)

    def _send_vmo_fd(self, a: Addr, fd: int, off: int, length: int) -> None:
        with self._guard.use():
            st = capi.uvsock_send_vmo(self._dev, a._to_c(), fd, off, length)
        check(st, f"send_vmo({a}, off={off}, length={length})")

    # --------------------------------------------------------------- events --

    def fileno(self) -> int:
        """The event queue's fd: readable while events are queued in the library (for
        ``selectors`` and ``loop.add_reader``). Events that :meth:`wait_for` skipped are kept in
        Python (see :meth:`pending`) and do not make it readable."""
        with self._guard.use():
            return int(capi.uvsock_event_queue_fd(self._q))

    def pending(self) -> int:
        """Events already read from the library and kept for :meth:`next_event`."""
        with self._cond:
            return len(self._pending)

    def _take(self, match: Callable[[Event], bool], timeout: Optional[float]) -> Optional[Event]:
        """The first event (kept ones first, then new ones, in order) that ``match`` accepts;
        the others are kept. None if none arrives within ``timeout`` (None: forever)."""
        deadline = _deadline(timeout)
        cev = capi.uvsock_event()
        while True:
            with self._cond:
                for i, ev in enumerate(self._pending):
                    if match(ev):
                        del self._pending[i]
                        return ev
                if self._guard.closed:
                    raise DeviceClosed()
                if self._reading:
                    # Another thread reads the library's queue and will share what it gets.
                    left = _SLICE_MS / 1000 if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(min(left, _SLICE_MS / 1000))
                    continue
                self._reading = True
            st = capi.UVSOCK_ERR_TIMED_OUT
            try:
                wait = _slice_ms(deadline)
                with self._guard.use():
                    st = capi.uvsock_event_queue_pop(self._q, cev, wait)
            finally:
                with self._cond:
                    self._reading = False
                    if st == capi.UVSOCK_OK:
                        self._pending.append(event_from_c(cev))
                    self._cond.notify_all()
            if st != capi.UVSOCK_OK and deadline is not None and time.monotonic() >= deadline:
                with self._cond:
                    for i, ev in enumerate(self._pending):
                        if match(ev):
                            del self._pending[i]
                            return ev
                return None

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds (None: forever, 0: poll); None if
        none arrived."""
        return self._take(lambda ev: True, timeout)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they arrive; ends when none arrives within ``timeout``
        (None: never ends by itself; 0: ends once the queue is empty)."""
        while True:
            ev = self.next_event(timeout)
            if ev is None:
                return
            yield ev

    def wait_for(self, types: EventTypes = Event, addr: Optional[Any] = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT,
                 match: Optional[Callable[[Event], bool]] = None) -> Any:
        """Waits for the first event of ``types`` (a class or tuple of classes), with
        ``addr`` if given and accepted by ``match`` if given. Events skipped meanwhile are
        kept, in order, for later calls. Raises :class:`uvsock.TimedOut` after ``timeout``."""
        if not (isinstance(types, tuple) and all(isinstance(t, type) for t in types)) and \
                not isinstance(types, type):
            raise TypeError("types must be an event class or a tuple of event classes")
        a = as_addr(addr) if addr is not None else None

        def ok(ev: Event) -> bool:
            if not isinstance(ev, types):
                return False
            if a is not None and getattr(ev, "addr", None) != a:
                return False
            return match is None or bool(match(ev))

        ev = self._take(ok, timeout)
        if ev is None:
            names = (types.__name__ if isinstance(types, type)
                     else "/".join(t.__name__ for t in types))
            raise TimedOut(f"no {names}" + (f" for {a}" if a else "") +
                           f" within {timeout} s (kept {self.pending()} other events)")
        return ev

    async def next_event_async(self, timeout: Optional[float] = None) -> Optional[Event]:
        """Awaits the next event on the running asyncio loop (``loop.add_reader`` on
        :meth:`fileno`); None after ``timeout`` seconds."""
        ev = self.next_event(0)
        if ev is not None:
            return ev
        loop = asyncio.get_running_loop()
        fd = self.fileno()
        deadline = _deadline(timeout)
        while True:
            ready = loop.create_future()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                await asyncio.wait_for(ready, left)
            except asyncio.TimeoutError:
                return None
            finally:
                loop.remove_reader(fd)
            ev = self.next_event(0)
            if ev is not None:
                return ev

    def on(self, types: EventTypes, fn: Optional[Callable[[Any], Any]] = None) -> Any:
        """Registers ``fn(event)`` for events of ``types``; :meth:`dispatch` runs it in the
        caller's thread. Returns ``fn``. Without ``fn``, a decorator:
        ``@dev.on(uvsock.Rst)``."""
        if fn is None:
            return lambda f: self.on(types, f)
        if not callable(fn):
            raise TypeError("handler must be callable")
        for t in (types if isinstance(types, tuple) else (types,)):
            if not (isinstance(t, type) and issubclass(t, Event)):
                raise TypeError(f"{t!r} is not an event class")
            with self._cond:
                self._handlers.setdefault(t, []).append(fn)
        return fn

    def off(self, types: EventTypes, fn: Callable[[Any], Any]) -> None:
        """Removes a handler registered with :meth:`on`."""
        for t in (types if isinstance(types, tuple) else (types,)):
            with self._cond:
                if fn in self._handlers.get(t, []):
                    self._handlers[t].remove(fn)

    def dispatch(self, timeout: Optional[float] = 0) -> int:
        """Runs the handlers of every event that has one, waiting up to ``timeout`` for the
        first; events without a handler are kept for :meth:`next_event`. Returns how many
        events were handled."""

        def handlers(ev: Event) -> List[Callable[[Any], Any]]:
            with self._cond:
                return [fn for t, fns in self._handlers.items() if isinstance(ev, t)
                        for fn in fns]

        handled = 0
        ev = self._take(lambda e: bool(handlers(e)), timeout)
        while ev is not None:
            for fn in handlers(ev):
                fn(ev)
            handled += 1
            ev = self._take(lambda e: bool(handlers(e)), 0)
        return handled

    # -------------------------------------------------------------- helpers --

    def _free_port(self) -> int:
        used = {a.local_port for a in self.connections()}
        with self._port_lock:
            for _ in range(16384):
                p = next(self._next_port)
                if p not in used:
                    return p
        raise error_for(capi.UVSOCK_ERR_NO_RESOURCES, "no free local port")

    def connect(self, remote_cid: int, remote_port: int, local_port: Optional[int] = None,
                timeout: Optional[float] = DEFAULT_TIMEOUT) -> Connection:
        """Opens a connection and returns the test's end as a connected socket
        (:class:`Connection`, a ``socket.socket`` with ``.addr``). SendRequest, then waits for
        the Response; a Rst raises ``ConnectionRefusedError``, no answer in ``timeout`` sends
        RST and raises :class:`uvsock.TimedOut`. ``local_port`` None picks a free port from
        49152."""
        u32(remote_cid, "remote_cid")
        u32(remote_port, "remote_port")
        for attempt in range(8):
            port = self._free_port() if local_port is None else u32(local_port, "local_port")
            a = Addr(port, remote_cid, remote_port)
            user, dev_end = socket.socketpair()
            try:
                self.send_request(a, dev_end)
            except BaseException as e:
                user.close()
                dev_end.close()
                if local_port is None and attempt < 7 and \
                        getattr(e, "status", 0) == capi.UVSOCK_ERR_ALREADY_BOUND:
                    continue
                raise
            break
        try:
            ev = self.wait_for((Response, Rst), addr=a, timeout=timeout)
        except TimedOut:
            user.close()
            with contextlib.suppress(Exception):
                self.send_rst(a)
            raise
        except BaseException:
            user.close()
            raise
        if isinstance(ev, Rst):
            user.close()
            raise ConnectionRefusedError(f"vsock connection {a} refused (Rst)")
        return Connection._wrap(user, self, a)

    def listen(self, port: int) -> Listener:
        """A :class:`Listener` whose ``accept(timeout)`` answers Requests to local ``port``."""
        return Listener(self, port)

    @property
    def sim(self) -> Optional["Sim"]:
        """The simulated device's host side and fault injection (:class:`uvsock.Sim`) when
        the URI is ``sim``, else None."""
        if self.closed:
            raise DeviceClosed()
        return self._sim

    # -------------------------------------------------------- introspection --

    def connections(self) -> List[Addr]:
        """The addresses of every connection the device knows, in no particular order."""
        n = 16
        while True:
            arr = capi.uvsock_addr_array(n)
            with self._guard.use():
                st, count = capi.uvsock_conn_list(self._dev, arr.cast(), n)
            check(st, "conn_list")
            if count <= n:
                return [Addr._from_c(arr[i]) for i in range(count)]
            n = count + 16

    def conn_info(self, addr: Union[Addr, Tuple[int, int, int]]) -> ConnInfo:
        """One connection's state and counters; raises NotFound for an unknown address."""
        a = as_addr(addr)
        info = capi.uvsock_conn_info()
        with self._guard.use():
            st = capi.uvsock_conn_info_get(self._dev, a._to_c(), info)
        check(st, f"conn_info({a})")
        return ConnInfo._from_c(info)

    def stats(self) -> Dict[Addr, ConnInfo]:
        """Every connection's :class:`ConnInfo`, by address."""
        out = {}
        for a in self.connections():
            with contextlib.suppress(Exception):
                out[a] = self.conn_info(a)
        return out

    def info(self) -> DevInfo:
        """Device counters and virtqueue state."""
        info = capi.uvsock_dev_info()
        with self._guard.use():
            st = capi.uvsock_dev_info_get(self._dev, info)
        check(st, "dev_info")
        return DevInfo._from_c(info)

    def event_overflows(self) -> int:
        """Events refused because the library's queue was full (it holds 2**20)."""
        with self._guard.use():
            return int(capi.uvsock_event_queue_overflows(self._q))

    # -------------------------------------------------------------- capture --

    def capture_start(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Starts a pcap capture (LINKTYPE_VSOCK) of every packet into ``path``. Raises
        BadState if one is running, IO if the file cannot be created."""
        p = os.fspath(path)
        if not isinstance(p, str):
            raise TypeError("path must be a str or os.PathLike[str]")
        if "\0" in p:
            raise ValueError("path contains a NUL character")
        with self._guard.use():
            st = capi.uvsock_capture_start(self._dev, p)
            reason = capi.uvsock_last_error() if st else ""
        check(st, f"capture_start({p!r})" + (f" ({reason})" if reason else ""))

    def capture_stop(self) -> None:
        """Stops the capture and flushes the file. Raises BadState if none is running, IO
        if a write failed."""
        with self._guard.use():
            st = capi.uvsock_capture_stop(self._dev)
            reason = capi.uvsock_last_error() if st else ""
        check(st, "capture_stop" + (f" ({reason})" if reason else ""))

    def capture_stats(self) -> CaptureStats:
        """The capture's counters (``active`` False when none runs)."""
        s = capi.uvsock_capture_stats()
        with self._guard.use():
            st = capi.uvsock_capture_stats_get(self._dev, s)
        check(st, "capture_stats")
        return CaptureStats._from_c(s)

    @contextlib.contextmanager
    def capture(self, path: Union[str, "os.PathLike[str]"]) -> Iterator[None]:
        """``with dev.capture("x.pcap"):`` captures the packets of the block."""
        self.capture_start(path)
        try:
            yield
        finally:
            self.capture_stop()


def open(uri: Optional[str] = "sim", start: bool = True) -> Device:  # noqa: A001
    """Opens (and by default starts) a device: ``with uvsock.open() as dev: ...``.
    ``uri``: ``"sim"`` (default), ``"sim:cid=5,uds=/tmp/v.sock"``, ``"uio:0000:00:04.0"``.
    Raises NotSupported for an unknown scheme, InvalidArgs for a malformed URI."""
    return Device(uri, start=start)
