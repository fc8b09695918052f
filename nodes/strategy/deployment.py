"""Load what the strategy trades through: the manifest's tokens and venues, and from the chain
FlashArbitrage's V2 factory list and Aave's flash-loan premium (read once, at start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils import to_checksum_address

from alphapulse.errors import ChainError, ConfigError
from contracts.arbitrage import arbitrage_contract
from contracts.client import Chain
from contracts.devnet import load_manifest, profit_recipient
from contracts.npm import AAVE, npm_artifact
from mesh.protocol.constants import VenueId
from nodes.strategy.values import Deployment

#: Manifest sections of V2 factories and the venue the collector writes for their pairs.
V2_SECTIONS = (("uniswap_v2", VenueId.UNISWAP_V2), ("uniswap_v2_fork", VenueId.SUSHISWAP))


def token_address(manifest: Mapping[str, Any], name: str) -> str:
    """A token named by its manifest symbol (``WETH``) or given as an address; lower case."""
    tokens = manifest.get("tokens", {})
    if name in tokens:
        return str(tokens[name]["address"]).lower()
    try:
        return to_checksum_address(name).lower()
    except (ValueError, TypeError):
        raise ConfigError(f"token {name!r} is neither a manifest symbol nor an address") from None


def _decimals(manifest: Mapping[str, Any], address: str) -> int:
    for token in manifest.get("tokens", {}).values():
        if str(token["address"]).lower() == address:
            return int(token["decimals"])
    raise ConfigError(f"the manifest does not list token {address}, so its decimals are unknown")


def load_deployment(settings: Mapping[str, Any], default_manifest: str) -> tuple[Deployment, list[str], Chain]:
    """The :class:`Deployment`, the profit tokens (lower case) and the chain client.

    Raises
    ------
    ConfigError
        Missing or unreadable manifest, unknown token, or a chain that does not answer.
    """
    path = settings["manifest"] or default_manifest
    try:
        manifest = load_manifest(path)
    except (ChainError, OSError) as exc:
        raise ConfigError(str(exc)) from exc
    rpc = settings["rpc_url"] or str(manifest.get("rpc_url", ""))
    if not rpc:
        raise ConfigError("no rpc_url configured and none in the manifest")
    try:
        chain = Chain(rpc)
        arb = arbitrage_contract(chain, manifest["flash_arbitrage"])
        count = arb.functions.V2_FACTORY_COUNT().call()
        on_chain = [arb.functions.v2Factory(i).call()[0].lower() for i in range(count)]
        venues = {}
        for section, venue in V2_SECTIONS:
            factory = str(manifest.get(section, {}).get("factory", "")).lower()
            if factory in on_chain:
                venues[int(venue)] = on_chain.index(factory)
        aave = manifest.get("aave_v3", {})
        premium = 0
        if aave.get("pool"):
            pool = chain.contract(aave["pool"], npm_artifact(AAVE, "Pool")["abi"])
            premium = int(pool.functions.FLASHLOAN_PREMIUM_TOTAL().call())
        caps = {str(r["asset"]).lower(): int(r["supplied"]) for r in aave.get("reserves", {}).values()}
        usd = token_address(manifest, settings["usd_token"])
        recipient = settings["recipient"] or profit_recipient(manifest)
        dep = Deployment(int(manifest["chain_id"]), manifest["flash_arbitrage"], recipient,
                         token_address(manifest, settings["native_token"]), usd, _decimals(manifest, usd),
                         aave.get("pool", ""), premium, caps, venues)
        profit = [token_address(manifest, t.strip()) for t in str(settings["profit_tokens"]).split(",") if t.strip()]
    except (ChainError, OSError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot load the deployment from {path}: {exc}") from exc
    return dep, profit, chain
