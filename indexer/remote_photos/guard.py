"""Which URLs a catalogue may make Shelfsight fetch.

A catalogue file is someone else's text: an ``Image Src`` of ``http://169.254.169.254/`` or
``http://localhost:6379/`` would have the host probe its own network. Only http(s) is
fetched, and only from addresses on the public internet unless the merchant says
otherwise (``--allow-private-urls``). The name is resolved here, every address it
resolves to checked, and the connection then made to the checked address (``Target``),
so a second lookup cannot answer differently (DNS rebinding); each redirect is checked
again before it is followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shelfsight.indexer.images import ImageError

REFUSED = "url refused"


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # the name the URL gives (Host header, TLS server name)
    port: int
    address: str  # the checked address the connection goes to


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool = False) -> Target:
    """The address to fetch ``url`` from, or ``ImageError`` ("url refused", "url
    unreachable") saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImageError(REFUSED, f"{url[:200]!r} is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ImageError(REFUSED, f"{url[:200]!r}: only http and https photos are fetched")
    host = parts.hostname
    if not host:
        raise ImageError(REFUSED, f"{url[:200]!r} names no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ImageError("url unreachable", f"{host}: the name does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not allow_private:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address)):
                raise ImageError(
                    REFUSED,
                    f"{host} is {address}, a private, loopback or reserved address "
                    "(--allow-private-urls fetches from those)",
                )
    return Target(url, scheme, host, port, addresses[0])
