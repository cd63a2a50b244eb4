"""A fake Redis Cluster node speaking RESP on loopback, for replies a real cluster rarely gives.

It names itself the owner of every slot (``CLUSTER SLOTS``) and then answers
every data command by ``behaviour``: ``"MOVED"`` or ``"ASK"`` (a redirection
to itself, forever: a redirection storm), ``"slow"`` (the right answer,
after :data:`SLOW_SECONDS`) or ``"garbage"`` (an array where Redis would give
a status, a string or an integer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

SLOW_SECONDS = 5.0
_HOST = b"127.0.0.1"


def _command_entry(name: bytes, arity: int, flag: bytes, first: int, last: int) -> bytes:
    return b"*6\r\n$%d\r\n%s\r\n:%d\r\n*1\r\n+%s\r\n:%d\r\n:%d\r\n:1\r\n" % (
        len(name), name, arity, flag, first, last,
    )  # fmt: skip


# What ``COMMAND`` answers: the commands the store sends (name, arity, a flag,
# first and last key), so a cluster client can route them and reach the data
# command's reply, which is what the tests are about.
_COMMANDS = [
    (b"set", -3, b"write", 1, 1),
    (b"get", 2, b"readonly", 1, 1),
    (b"del", -2, b"write", 1, -1),
    (b"evalsha", -3, b"noscript", 0, 0),
    (b"eval", -3, b"noscript", 0, 0),
    (b"script", -2, b"noscript", 0, 0),
    (b"wait", 3, b"noscript", 0, 0),
]
_COMMAND_TABLE = b"*%d\r\n" % len(_COMMANDS) + b"".join(_command_entry(*c) for c in _COMMANDS)


async def _read_command(reader: asyncio.StreamReader) -> list[bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    args = []
    for _ in range(int(line[1:])):
        size = int((await reader.readline())[1:])
        args.append((await reader.readexactly(size + 2))[:-2])
    return args


def _reply(args: list[bytes], behaviour: str, port: int) -> bytes | None:
    name = b" ".join(args[:2]).upper()
    if name.startswith(b"HELLO"):
        return b"-NOPROTO this node speaks RESP2 only\r\n"
    if name == b"CLUSTER SLOTS":
        node = b"*3\r\n$%d\r\n%s\r\n:%d\r\n$40\r\n%s\r\n" % (len(_HOST), _HOST, port, b"a" * 40)
        return b"*1\r\n*3\r\n:0\r\n:16383\r\n" + node
    if name.startswith((b"CLIENT", b"READONLY", b"SELECT", b"AUTH")):
        return b"+OK\r\n"
    if name.startswith(b"PING"):
        return b"+PONG\r\n"
    if name.startswith(b"COMMAND"):
        return _COMMAND_TABLE
    if behaviour in ("MOVED", "ASK"):
        return b"-%s 1 127.0.0.1:%d\r\n" % (behaviour.encode(), port)
    if behaviour == "garbage":
        return b"*1\r\n:1\r\n"
    return None  # "slow": answered late by the caller


@asynccontextmanager
async def fake_cluster_node(behaviour: str) -> AsyncIterator[int]:
    """Serve a fake node with ``behaviour`` on a free loopback port; yields the port."""

    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while (args := await _read_command(reader)) is not None:
                reply = _reply(args, behaviour, port)
                if reply is None:
                    await asyncio.sleep(SLOW_SECONDS)
                    reply = b"+OK\r\n" if args[0].upper() == b"SET" else b"$-1\r\n"
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for writer in writers:  # a handler still sleeping must not hold the exit
            writer.close()
        await server.wait_closed()
