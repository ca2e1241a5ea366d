#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A first vsock connection test (the tutorial in docs/python.md): connect to the simulated
host's echo service, check the bytes come back, close gracefully."""
import uvsock


def main() -> None:
    with uvsock.open("sim") as dev:
        print("guest CID", dev.get_cid())
        s = dev.connect(uvsock.CID_HOST, uvsock.ECHO_PORT, timeout=5)  # SendRequest + Response
        print("connected", s.addr)
        s.sendall(b"hello, vsock")
        s.settimeout(5)
        reply = s.recv(64)
        assert reply == b"hello, vsock", reply
        dev.send_shutdown(s.addr)                        # SHUTDOWN; the host answers RST
        rst = dev.wait_for(uvsock.Rst, addr=s.addr, timeout=5)
        print("closed:", rst)
        s.close()
    print("PASS")


if __name__ == "__main__":
    main()
