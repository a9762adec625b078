"""``python -m bench.attacker --port P --idle N --slow M [--tls-ca FILE]``: idle and slow
clients against one server, until SIGTERM.

``N`` connections that send nothing, and ``M`` clients that send a token request one byte
a second; whatever the server cuts is reconnected at once, so the server always has about
``N + M`` such connections. With ``--tls-ca`` the slow clients speak TLS (trusting that CA)
and the idle ones connect without ever starting TLS. On SIGTERM it prints what it saw as
one JSON object (connections made, cut by the server, refused) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import ssl
import sys
from collections import Counter
from collections.abc import Sequence

HOST = "127.0.0.1"
REQUEST = (
    b"GET /v2/token?service=registry.test&scope=repository:x/y:pull HTTP/1.1\r\nHost: x\r\n\r\n"
)


async def _idle(port: int, counts: Counter[str]) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.1)
            continue
        counts["idle connected"] += 1
        try:
            await reader.read(1)  # b"" once the server closes it
            counts["idle cut"] += 1
        except OSError:
            counts["idle cut"] += 1
        finally:
            writer.close()


async def _slow(port: int, context: ssl.SSLContext | None, counts: Counter[str]) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(
                HOST, port, ssl=context, server_hostname="localhost" if context else None
            )
        except (OSError, ssl.SSLError):
            counts["refused"] += 1
            await asyncio.sleep(0.1)
            continue
        counts["slow connected"] += 1
        try:
            for byte in REQUEST:
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(1), timeout=1.0) == b"":
                        break  # cut
            counts["slow cut"] += 1
        except (OSError, ssl.SSLError):
            counts["slow cut"] += 1
        finally:
            writer.close()


async def _main(args: argparse.Namespace) -> Counter[str]:
    counts: Counter[str] = Counter()
    context = ssl.create_default_context(cafile=args.tls_ca) if args.tls_ca else None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(_idle(args.port, counts)) for _ in range(args.idle)]
    tasks += [asyncio.create_task(_slow(args.port, context, counts)) for _ in range(args.slow)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attacker")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--tls-ca")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * (args.idle + args.slow) + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    counts = asyncio.run(_main(args))
    print(json.dumps(dict(counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
