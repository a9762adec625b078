"""The client's address: the direct peer, or what a trusted proxy says it forwarded for.

``server.trusted_proxies`` lists networks (CIDR, or single addresses) of reverse proxies.
When the direct peer (``req.remote_addr``) is in one of them, ``X-Forwarded-For`` is read from
the right, skipping addresses that are themselves trusted proxies; the first one that is not
is the client. Anything left of it was written by the client and is ignored, so is the
whole header when the peer is not trusted (anyone can send it), and so is a value that is not
an IP address (the last trusted proxy is then the client). With no trusted proxies (the
default) the header is never read.

:class:`ClientAddress` puts the answer in ``req.context.client_address`` for the throttle,
the audit log and the access log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import falcon

from libdockit.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SETTING = "server.trusted_proxies"
MAX_FORWARDED_HOPS = 32
#: Peer and header pairs whose client address is remembered (see ClientAddress), and the
#: longest header remembered: a chain of a few proxies is far shorter, and a longer one
#: (the client's to write) would only fill the memory.
MAX_REMEMBERED = 1024
MAX_REMEMBERED_HEADER = 512


def parse_networks(values: Iterable[str], *, key: str = SETTING) -> tuple[Network, ...]:
    """CIDRs or plain addresses; ConfigError naming ``key`` for one that is neither."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(key, f"{value!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, nets: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The client's address for a request from ``remote_addr`` (see the module docs)."""
    if not trusted or not remote_addr:
        return remote_addr
    peer = _address(remote_addr)
    if peer is None or not _trusted(peer, trusted):
        return remote_addr
    client = peer
    hops = [h for h in (forwarded_for or "").split(",") if h.strip()][-MAX_FORWARDED_HOPS:]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return str(client)


class ClientAddress:
    """Falcon middleware: ``req.context.client_address`` for every request."""

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self._trusted = tuple(trusted_proxies)
        #: The answer for each (peer, X-Forwarded-For) pair seen lately: behind a proxy the
        #: same few pairs repeat. Emptied when full (the header is the client's to vary).
        self._known: dict[tuple[str | None, str | None], str | None] = {}

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._trusted:  # the header is never read then, so it is not even looked up
            req.context.client_address = req.remote_addr
            return
        key = (req.remote_addr, req.get_header("X-Forwarded-For"))
        known = self._known
        if key in known:
            req.context.client_address = known[key]
            return
        found = client_address(key[0], key[1], self._trusted)
        if len(key[1] or "") <= MAX_REMEMBERED_HEADER:
            if len(known) >= MAX_REMEMBERED:
                known.clear()
            known[key] = found
        req.context.client_address = found


def of(req: falcon.Request) -> str | None:
    """The client address the middleware found (the direct peer without it)."""
    found = getattr(req.context, "client_address", None)  # context.get(), without a call
    return str(found) if found is not None else req.remote_addr
