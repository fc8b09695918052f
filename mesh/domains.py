"""Names of the relay domains as rings and operators spell them (``market-data``...).

Light on purpose (no numba, no ZeroMQ): contracts, configuration and the command line use it.
"""

from __future__ import annotations

from mesh.protocol.constants import RelayDomain

__all__ = ["parse_ring_domain", "ring_domain"]


def ring_domain(domain: RelayDomain | int) -> str:
    """The ring domain name of a relay domain (``RelayDomain.MARKET_DATA`` -> ``market-data``)."""
    return RelayDomain(domain).name.lower().replace("_", "-")


def parse_ring_domain(text: str) -> RelayDomain:
    """The relay domain named ``text`` (``market-data``, ``market_data`` or ``1``).

    Raises ``ValueError`` naming the known domains.
    """
    key = text.strip().lower().replace("-", "_")
    if key.isdigit() and int(key) in RelayDomain._value2member_map_:
        return RelayDomain(int(key))
    for d in RelayDomain:
        if d.name.lower() == key:
            return d
    names = ", ".join(ring_domain(d) for d in RelayDomain)
    raise ValueError(f"unknown ring domain {text!r} (known: {names})")
