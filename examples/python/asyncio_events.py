#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Events on an asyncio loop: dev.fileno() is readable when events are queued."""
import asyncio
import socket

import uvsock


async def main() -> None:
    with uvsock.open() as dev:
        loop = asyncio.get_running_loop()
        # Three host-initiated connections; accept each as its Request arrives.
        hosts = [dev.sim.connect(7000 + i)[0] for i in range(3)]
        accepted = []
        while len(accepted) < 3:
            ev = await dev.next_event_async(timeout=5)
            assert isinstance(ev, uvsock.Request), ev
            user, dev_end = socket.socketpair()
            dev.send_response(ev.addr, dev_end)
            accepted.append(await asyncio.open_unix_connection(sock=user))
            print("accepted", ev.addr)
        for i, host in enumerate(hosts):
            await loop.sock_sendall(host, b"hello %d\n" % i)
        for i, (reader, _) in enumerate(accepted):
            line = await asyncio.wait_for(reader.readline(), 5)
            assert line == b"hello %d\n" % i, line
        for host in hosts:
            host.close()
        for _, writer in accepted:
            writer.close()
    print("PASS")


if __name__ == "__main__":
    asyncio.run(main())
