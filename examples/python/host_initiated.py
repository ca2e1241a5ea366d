#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The host connects to the guest: answer Requests with a Listener, talk through the host end
the simulator hands back, watch the peer's Shutdown."""
import uvsock


def main() -> None:
    with uvsock.open() as dev, dev.listen(5000) as listener:
        host, host_port = dev.sim.connect(5000)          # host program's end of the connection
        conn, addr = listener.accept(timeout=5)          # Request -> SendResponse
        print("accepted", addr, "from host port", host_port)
        host.sendall(b"ping")
        conn.settimeout(5)
        assert conn.recv(4) == b"ping"
        conn.sendall(b"pong")
        host.settimeout(5)
        assert host.recv(4) == b"pong"
        host.close()                                     # host closes: Shutdown, then we RST
        ev = dev.wait_for(uvsock.Shutdown, addr=addr, timeout=5)
        print("peer shut down:", ev)
        dev.send_rst(addr)
        conn.close()
    print("PASS")


if __name__ == "__main__":
    main()
