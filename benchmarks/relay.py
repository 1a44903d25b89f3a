"""A loopback TCP relay that adds latency: ``python -m benchmarks.relay DELAY_MS ROUTE...``.

Each ``ROUTE`` is ``LISTEN_ADDRESS:PORT=TARGET_ADDRESS:PORT``. Every accepted
connection is forwarded to its target, and every chunk read in either
direction is written out ``DELAY_MS`` milliseconds after it was read, in
order: a round trip gains twice the delay, and throughput is not limited (the
kernel's netem is not available on the benchmark machine). Prints ``ready``
on stdout once every route listens, and runs until it is terminated or its
stdin closes (so it never outlives the benchmark that started it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys

__all__ = ["READY", "Route", "main", "parse_route"]

#: The line the relay prints once it listens on every route.
READY = "ready"

#: How much the relay reads from a socket at once.
_CHUNK = 256 * 1024

Route = tuple[tuple[str, int], tuple[str, int]]


def parse_route(text: str) -> Route:
    """``127.0.0.2:4000=127.0.0.2:2222`` -> ((listen address, port), (target address, port))."""
    listen, sep, target = text.partition("=")
    if not sep:
        raise SystemExit(f"route {text!r} is not LISTEN:PORT=TARGET:PORT")
    listen_address, _, listen_port = listen.rpartition(":")
    target_address, _, target_port = target.rpartition(":")
    return (listen_address, int(listen_port)), (target_address, int(target_port))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def write() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            # No drain per chunk: waiting on it would stall the chunks queued behind
            # this one past their due time. The kernel's buffers absorb ssh's windows.

    reading = asyncio.create_task(read())
    try:
        await write()
    finally:
        reading.cancel()


async def _connection(
    target: tuple[str, int],
    delay: float,
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    for writer in (client_writer, server_writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:  # asyncio sets it on TCP already; say so anyway
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(
            _pump(client_reader, server_writer, delay),
            _pump(server_reader, client_writer, delay),
            return_exceptions=True,
        )
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


async def _serve(delay: float, routes: list[Route]) -> None:
    servers = []
    for listen, target in routes:

        async def handle(
            reader: asyncio.StreamReader,
            writer: asyncio.StreamWriter,
            target: tuple[str, int] = target,
        ) -> None:
            # Cancelled when the relay stops: connections still open just end.
            with contextlib.suppress(asyncio.CancelledError):
                await _connection(target, delay, reader, writer)

        servers.append(await asyncio.start_server(handle, *listen))
    print(READY, flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    await stdin_closed
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    """Run the relay until stdin closes; 0 then."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        raise SystemExit("usage: python -m benchmarks.relay DELAY_MS LISTEN:PORT=TARGET:PORT...")
    delay = float(args[0]) / 1000
    asyncio.run(_serve(delay, [parse_route(route) for route in args[1:]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
