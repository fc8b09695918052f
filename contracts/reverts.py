"""Reverts: the :class:`Reverted` error and the decoder of custom-error revert data."""

from __future__ import annotations

from collections.abc import Iterable

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from alphapulse.errors import ChainError

_BUILTIN = {keccak(text="Error(string)")[:4]: ("Error", ["string"]),
            keccak(text="Panic(uint256)")[:4]: ("Panic", ["uint256"])}


class Reverted(ChainError):
    """A call or transaction reverted; ``error`` is the decoded custom error name when known.

    Attributes
    ----------
    error : str or None
        Name of the custom error (``Error`` and ``Panic`` included), None when unknown.
    error_args : tuple
        Its decoded arguments (addresses checksummed).
    data : str
        The raw revert data, hex with ``0x``; empty when the node gave none.
    """

    kind = "reverted"

    def __init__(self, message: str, error: str | None = None, args: tuple = (), data: str = ""):
        super().__init__(message)
        self.error = error
        self.error_args = args
        self.data = data


class ErrorDecoder:
    """Maps 4-byte custom-error selectors to names and argument types, from ABIs.

    Learn ABIs (:meth:`add`) before sharing a decoder between threads; decoding only reads.
    """

    def __init__(self, abis: Iterable[list[dict]] = ()):
        self.errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            self.add(abi)

    def add(self, abi: list[dict]) -> None:
        """Learn every ``error`` entry of ``abi``."""
        for item in abi:
            if item.get("type") == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self.errors[selector] = (item["name"], types)

    def decode(self, data: str) -> tuple[str | None, tuple]:
        """(name, args) of revert ``data`` (hex); ``Error``/``Panic`` included; (None, ()) if unknown."""
        try:
            raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        except ValueError:
            return None, ()
        known = self.errors.get(raw[:4]) or _BUILTIN.get(raw[:4]) if len(raw) >= 4 else None
        if known is None:
            return None, ()
        name, types = known
        try:
            values = abi_decode(types, raw[4:])
        except (DecodingError, ValueError, OverflowError):
            return name, ()  # malformed arguments: still a revert of that name
        return name, tuple(to_checksum_address(v) if t == "address" else v
                           for t, v in zip(types, values, strict=True))
