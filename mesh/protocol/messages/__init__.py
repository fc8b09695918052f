"""Every message type with a layout; importing this package fills the registry."""

from mesh.protocol.messages.defi import (
    ArbitrageOpportunity,
    ArbitrageRoute,
    BlockEnd,
    CexDexSignal,
    ChainEvent,
    CrossChainArbitrageSignal,
    CrossChainLegs,
    EmergencyStop,
    ExecutionDetail,
    ExecutionResult,
    Heartbeat,
    OrderRequest,
    OrderStatus,
    PoolInvalidation,
    PoolTickLiquidity,
    ProcessEvent,
    RiskAlert,
    StrategyPerformance,
)
from mesh.protocol.messages.market import (
    GasPrice,
    OrderBook,
    OrderLevel,
    PoolBurn,
    PoolLiquidity,
    PoolMint,
    PoolState,
    PoolSwap,
    PoolSync,
    PoolTick,
    Quote,
    StateInvalidationReason,
    Trade,
)
from mesh.protocol.messages.upstream_system import (
    ArbitrageSignal,
    InstrumentIdRecord,
    RecoveryRequest,
    Snapshot,
    StateInvalidation,
    SystemHealth,
    TraceContext,
)

__all__ = [
    "ArbitrageOpportunity", "ArbitrageRoute", "ArbitrageSignal", "BlockEnd", "CexDexSignal", "ChainEvent", "CrossChainArbitrageSignal", "CrossChainLegs", "EmergencyStop",
    "ExecutionDetail", "ExecutionResult", "GasPrice", "Heartbeat", "InstrumentIdRecord", "OrderBook", "OrderLevel",
    "OrderRequest", "OrderStatus", "PoolBurn", "PoolInvalidation", "PoolLiquidity", "PoolMint", "PoolState",
    "PoolSwap", "PoolSync", "PoolTick", "PoolTickLiquidity", "ProcessEvent", "Quote", "RecoveryRequest", "RiskAlert", "Snapshot",
    "StateInvalidation", "StateInvalidationReason", "StrategyPerformance", "SystemHealth",
    "TraceContext", "Trade",
]
