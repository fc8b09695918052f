"""Protocol constants and the enumerations carried in headers and values.

Values follow upstream AlphaPulse v2 (docs/wire-format.md §1.3, §2, §5): relay domains are
1-based and source types follow the codec table, as docs/wire-format.md §7 #1 and #2 choose.
"""

from __future__ import annotations

from enum import IntEnum

MAGIC = 0xDEADBEEF
MAGIC_BYTES = b"\xef\xbe\xad\xde"
PROTOCOL_VERSION = 1
#: Protocol versions this implementation reads and writes.
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
HEADER_SIZE = 32
MAX_MESSAGE_SIZE = 1 << 20
MAX_TLV_VALUE = 65_535
MAX_STANDARD_TLV_VALUE = 255
EXTENDED_TLV_MARKER = 255


class RelayDomain(IntEnum):
    """Routing domain in header byte 4 (docs/wire-format.md §2.1)."""

    MARKET_DATA = 1
    SIGNAL = 2
    EXECUTION = 3
    SYSTEM = 4


def domain_of_type(tlv_type: int) -> RelayDomain:
    """The relay domain upstream routes a TLV type to (``TLVType::relay_domain``, §6.1)."""
    if 1 <= tlv_type <= 19:
        return RelayDomain.MARKET_DATA
    if 20 <= tlv_type <= 39 or 60 <= tlv_type <= 79:
        return RelayDomain.SIGNAL
    if 40 <= tlv_type <= 59:
        return RelayDomain.EXECUTION
    if 80 <= tlv_type <= 119:
        return RelayDomain.SYSTEM
    return RelayDomain.MARKET_DATA


class SourceType(IntEnum):
    """The producing service, header byte 6 (codec table, docs/wire-format.md §2.2)."""

    BINANCE_COLLECTOR = 1
    KRAKEN_COLLECTOR = 2
    COINBASE_COLLECTOR = 3
    POLYGON_COLLECTOR = 4
    GEMINI_COLLECTOR = 5
    ARBITRAGE_STRATEGY = 20
    MARKET_MAKER = 21
    TREND_FOLLOWER = 22
    KRAKEN_SIGNAL_STRATEGY = 23
    PORTFOLIO_MANAGER = 40
    RISK_MANAGER = 41
    EXECUTION_ENGINE = 42
    DASHBOARD = 60
    METRICS_COLLECTOR = 61
    STATE_MANAGER = 62
    MARKET_DATA_RELAY = 80
    SIGNAL_RELAY = 81
    EXECUTION_RELAY = 82


class VenueId(IntEnum):
    """Trading venues and chains (docs/wire-format.md §5.2)."""

    GENERIC = 0
    NYSE = 1
    NASDAQ = 2
    LSE = 3
    TSE = 4
    HKEX = 5
    BINANCE = 100
    KRAKEN = 101
    COINBASE = 102
    HUOBI = 103
    OKEX = 104
    FTX = 105
    BYBIT = 106
    KUCOIN = 107
    GEMINI = 108
    ETHEREUM = 200
    BITCOIN = 201
    POLYGON = 202
    BINANCE_SMART_CHAIN = 203
    AVALANCHE = 204
    FANTOM = 205
    ARBITRUM = 206
    OPTIMISM = 207
    SOLANA = 208
    CARDANO = 209
    POLKADOT = 210
    COSMOS = 211
    UNISWAP_V2 = 300
    UNISWAP_V3 = 301
    SUSHISWAP = 302
    CURVE = 303
    BALANCER = 304
    AAVE = 305
    COMPOUND = 306
    MAKERDAO = 307
    YEARN = 308
    SYNTHETIX = 309
    DYDX = 310
    QUICKSWAP = 400
    SUSHISWAP_POLYGON = 401
    CURVE_POLYGON = 402
    AAVE_POLYGON = 403
    BALANCER_POLYGON = 404
    PANCAKESWAP = 500
    VENUS_PROTOCOL = 501
    UNISWAP_V3_ARBITRUM = 600
    SUSHISWAP_ARBITRUM = 601
    CURVE_ARBITRUM = 602
    DERIBIT = 700
    BYBIT_DERIVATIVES = 701
    OPYN_PROTOCOL = 702
    HEGIC = 703
    COMEX = 800
    CME = 801
    ICE = 802
    FOREX_COM = 803
    TEST_VENUE = 65000
    MOCK_EXCHANGE = 65001


class AssetType(IntEnum):
    """Asset classes of an InstrumentId (docs/wire-format.md §5.3)."""

    STOCK = 1
    BOND = 2
    ETF = 3
    COMMODITY = 4
    CURRENCY = 5
    INDEX = 6
    TOKEN = 50
    COIN = 51
    NFT = 52
    STABLE_COIN = 53
    WRAPPED_TOKEN = 54
    POOL = 100
    LP_TOKEN = 101
    YIELD_TOKEN = 102
    SYNTHETIC_ASSET = 103
    DERIVATIVE_TOKEN = 104
    GOVERNANCE_TOKEN = 105
    OPTION = 150
    FUTURE = 151
    SWAP = 152
    FORWARD = 153
    CDS = 154
    STRUCTURED_NOTE = 200
    CONVERTIBLE_BOND = 201
    TEST_ASSET = 250
    MOCK_ASSET = 251


class InvalidationReason(IntEnum):
    """Why market state was invalidated (docs/wire-format.md §4.10; REORG and BAD_STATE are
    this project's, docs/protocol-types.md)."""

    DISCONNECTION = 0
    AUTHENTICATION_FAILURE = 1
    RATE_LIMITED = 2
    STALENESS = 3
    MAINTENANCE = 4
    RECOVERY = 5
    REORG = 6
    BAD_STATE = 7


class DEXProtocol(IntEnum):
    """``PoolStateTLV.pool_type`` (the types-crate enum, docs/wire-format.md §4.9 and §7 #9)."""

    UNISWAP_V2 = 0
    UNISWAP_V3 = 1
    SUSHISWAP_V2 = 2
    QUICKSWAP_V3 = 3
    CURVE = 4
    BALANCER = 5


class PoolKind(IntEnum):
    """Kind of pool on an arbitrage route (AlphaPulse DeFi extension).

    Also FlashArbitrage's hop ``kind`` byte (contracts/README.md), which refuses NONE.
    """

    NONE = 0
    UNISWAP_V2 = 1
    UNISWAP_V3 = 2


class FlashSource(IntEnum):
    """Where an arbitrage borrows its input (AlphaPulse DeFi extension).

    Also FlashArbitrage's ``source`` byte (contracts/README.md), which refuses NONE: the one
    definition, shared by the wire format and the contract.
    """

    NONE = 0
    AAVE_V3 = 1
    UNISWAP_V2 = 2
    UNISWAP_V3 = 3


class ExecutionStatus(IntEnum):
    """Outcome of an opportunity's execution (ExecutionResult.status)."""

    SUBMITTED = 0
    INCLUDED = 1
    REVERTED = 2
    DROPPED = 3
    REJECTED = 4
    SUBMIT_FAILED = 5


class RevertReason(IntEnum):
    """Why an execution did not make money (ExecutionResult.revert_reason)."""

    NONE = 0
    PROFIT_BELOW_MINIMUM = 1
    STALE_OPPORTUNITY = 2
    SIMULATION_FAILED = 3
    INSUFFICIENT_OUTPUT = 4
    PAUSED = 5
    UNAUTHORIZED = 6
    OUT_OF_GAS = 7
    NONCE_TOO_LOW = 8
    EMERGENCY_STOP = 9
    UNKNOWN = 255


class RejectReason(IntEnum):
    """Why an executor refused an opportunity before or instead of sending it
    (ExecutionDetail.reject_reason)."""

    NONE = 0
    MALFORMED = 1
    WRONG_CHAIN = 2
    STRATEGY_NOT_ALLOWED = 3
    POOL_NOT_ALLOWED = 4
    TOKEN_NOT_ALLOWED = 5
    LENDER_NOT_ALLOWED = 6
    EXPIRED_BLOCK = 7
    EXPIRED_TIME = 8
    SIZE_LIMIT = 9
    PROFIT_BELOW_MINIMUM = 10
    DUPLICATE = 11
    HALTED = 12
    SIMULATION_REVERTED = 13
    SIMULATED_PROFIT_LOW = 14
    GAS_ABOVE_BUDGET = 15
    GAS_PRICE_CEILING = 16
    CHAIN_UNAVAILABLE = 17
    IN_FLIGHT_LIMIT = 18
    NO_BLOCK_YET = 19
    RECIPIENT_NOT_ALLOWED = 20
    PROFIT_ABOVE_LIMIT = 21
    SEND_FAILED = 22
    CONFLICT = 23


class SubmitPath(IntEnum):
    """How a transaction reached the chain (ExecutionDetail.submit_path)."""

    NONE = 0
    PUBLIC = 1
    RELAY = 2
    RELAY_THEN_PUBLIC = 3


class Severity(IntEnum):
    """RiskAlert severity."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


class AlertAction(IntEnum):
    """What the risk node did about an alert."""

    NONE = 0
    THROTTLE = 1
    HALT_STRATEGY = 2
    EMERGENCY_STOP = 3


class StopScope(IntEnum):
    """What an EmergencyStop halts."""

    ALL = 0
    STRATEGY = 1
    CHAIN = 2
    NODE = 3


class StopReason(IntEnum):
    """Why an EmergencyStop was raised."""

    MANUAL = 0
    CIRCUIT_BREAKER = 1
    DEAD_MANS_SWITCH = 2
    LOSS_LIMIT = 3
    ERROR_RATE = 4
    RESUME = 5


class NodeState(IntEnum):
    """A node's lifecycle state, as its heartbeat reports it."""

    STARTING = 0
    RUNNING = 1
    DEGRADED = 2
    STOPPING = 3
    HALTED = 4


class OrderSide(IntEnum):
    """Side of a CEX order leg."""

    BUY = 0
    SELL = 1


class OrderType(IntEnum):
    """Kind of a CEX order leg."""

    MARKET = 0
    LIMIT = 1


class TimeInForce(IntEnum):
    """How long a CEX order rests."""

    GTC = 0
    IOC = 1
    FOK = 2


class OrderState(IntEnum):
    """State of a CEX order (OrderStatus.status)."""

    NEW = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELLED = 3
    REJECTED = 4
    EXPIRED = 5


class CexDexDirection(IntEnum):
    """Which way a CEX-DEX signal trades (CexDexSignal.direction)."""

    BUY_DEX_SELL_CEX = 0
    BUY_CEX_SELL_DEX = 1


class ProcessState(IntEnum):
    """A supervised program's state (ProcessEvent.state), after supervisord's PROCESS_STATE."""

    UNKNOWN = 0
    STOPPED = 1
    STARTING = 2
    RUNNING = 3
    BACKOFF = 4
    STOPPING = 5
    EXITED = 6
    FATAL = 7
