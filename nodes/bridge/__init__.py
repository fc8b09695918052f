"""The ring bridge: market-data rings from one host into rings on another (docs/bridge.md).

Rings are per host. ``bridge-out`` (:mod:`nodes.bridge.outbound`) reads every market-data
ring of its host and republishes each frame, byte for byte, on a ZeroMQ PUB over tcp with
CURVE, one stream per ring; ``bridge-in`` (:mod:`nodes.bridge.inbound`) on another host
subscribes and writes each frame into a local ring named ``<origin>--<writer>``, where the
strategy, cexdex and any ring reader find it. Losses are counted end to end: ring losses at
bridge-out travel as skipped stream sequences, so bridge-in's one gap count holds them, the
link's drops and reconnects; on a gap bridge-in writes invalidations into the ring before the
next frame, so consumers drop what they hold from that source instead of trusting it.

Neither node is a default node: configure them per host (``[nodes.bridge-out]``,
``[nodes.bridge-in]``).
"""

from nodes.bridge.inbound import BridgeInNode
from nodes.bridge.outbound import BridgeOutNode

__all__ = ["BridgeInNode", "BridgeOutNode"]
