#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fault injection on the simulated device: a packet of unknown type must make the driver
reset that connection (and only it); a transport reset drops everything."""
import uvsock


def main() -> None:
    with uvsock.open() as dev:
        victim = dev.connect(uvsock.CID_HOST, uvsock.ECHO_PORT)
        bystander = dev.connect(uvsock.CID_HOST, uvsock.ECHO_PORT)
        dev.sim.inject(uvsock.Fault.BAD_TYPE, victim.addr.local_port)
        victim.sendall(b"x")                              # the echo comes back with type 0x7777
        print("reset:", dev.wait_for(uvsock.Rst, addr=victim.addr, timeout=5))
        bystander.sendall(b"ok")
        bystander.settimeout(5)
        assert bystander.recv(2) == b"ok"
        print("RST the driver sent:", dev.sim.stats().last_rst_from_driver)
        dev.sim.transport_reset(new_cid=42)
        ev = dev.wait_for(uvsock.TransportReset, timeout=5)
        assert ev.new_cid == dev.get_cid() == 42 and dev.connections() == []
        print("transport reset:", ev)
        victim.close()
        bystander.close()
    print("PASS")


if __name__ == "__main__":
    main()
