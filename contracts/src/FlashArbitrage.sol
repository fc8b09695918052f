// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// Minimal views of the contracts FlashArbitrage calls. Signatures follow the deployed code:
/// UniswapV2Pair.sol (v2-core 1.0.1), UniswapV3Pool.sol (v3-core 1.0.1), Pool.sol (aave core-v3 1.19.3).
interface IUniswapV2PairLike {
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 ts);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface IUniswapV3PoolLike {
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1);
    function flash(address recipient, uint256 amount0, uint256 amount1, bytes calldata data) external;
}

interface IAavePoolLike {
    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata params, uint16 referralCode) external;
}

/// @title FlashArbitrage
/// @notice Borrows with a flash loan (Aave V3 flashLoanSimple, a Uniswap V2 flash swap or a Uniswap V3
/// flash), swaps along a cyclic route of 2 to 4 hops across Uniswap V2 pairs and V3 pools (called directly,
/// no router), repays principal plus fee, pays the profit to the recipient and emits one `Arbitrage` event,
/// or reverts with a named error. Gas-saving choices are explained in contracts/README.md ("Gas").
///
/// The trade is one packed byte string (built by contracts/arbitrage.py, `Trade.encode`), forwarded
/// unchanged as the flash callback's data and read in place with calldataload:
///
///   head, 72 bytes:  recipient (20) | lender (20) | source (1: 0 Aave, 1 V2, 2 V3)
///                    | lenderFlags (1: bit 0 = the loan is the lender's token1) | lenderFeeBps (2, V2 lender)
///                    | amountIn (14) | minProfit (14)
///   hop, 56 bytes:   pool (20) | kind (1: 0 V2 pair, 1 V3 pool) | hopFlags (1: bit 0 = zeroForOne, tokenIn
///                    is the pool's token0) | v2FeeBps (2) | tokenIn (20) | amountOut (12, V2 only)
///
/// The route is cyclic by construction: the profit token is hop 0's tokenIn and every hop's output is its
/// pool's other token. A V2 hop with amountOut != 0 uses that precomputed output instead of reading the
/// pair's reserves (the pair's K check reverts the whole trade if it is too high); 0 means "price it from
/// getReserves with v2FeeBps".
///
/// A V2 flash whose lender is the route's last pair is "fused": the pair pays the last hop's precomputed
/// output (the profit token) first, the route's other hops deliver its input (their last output goes
/// straight into the lender), so the profit is known before any swap and no intermediate token ever
/// passes through this contract.
contract FlashArbitrage {
    uint256 internal constant HEAD = 72;
    uint256 internal constant HOP = 56;
    uint256 internal constant KIND_V2 = 0;
    uint256 internal constant KIND_V3 = 1;
    uint256 internal constant SOURCE_AAVE = 0;
    uint256 internal constant SOURCE_V2 = 1;
    uint256 internal constant SOURCE_V3 = 2;
    uint160 internal constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740; // TickMath.MIN_SQRT_RATIO + 1
    uint160 internal constant MAX_SQRT_RATIO_MINUS_ONE = 1461446703485210103287273052203988822378723970341; // TickMath.MAX_SQRT_RATIO - 1

    /// Owner and pause flag share one storage slot: a trade pays one cold SLOAD for both checks.
    address public owner;
    bool public paused;

    /// Trade context lives in transient storage (EIP-1153): 100 gas per access, cleared by the chain
    /// at the end of the transaction, so no SSTORE refund games and no stale state after a revert.
    uint256 private transient _lock;
    address private transient _lender; // the flash source allowed to call back now
    address private transient _hopPool; // the V3 pool allowed to call uniswapV3SwapCallback now

    /// `route` is keccak256 of the trade bytes that `execute` received (Trade.route_hash in Python).
    event Arbitrage(
        address indexed token,
        address indexed recipient,
        address indexed lender,
        bytes32 route,
        uint256 source,
        uint256 amountIn,
        uint256 amountOut,
        uint256 fee,
        uint256 profit
    );
    event PausedSet(bool paused);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Rescued(address indexed token, address indexed to, uint256 amount);

    error NotOwner(address caller);
    error TradingPaused();
    error Reentrancy();
    error BadRouteLength(uint256 length);
    error ZeroAmount();
    error ZeroAddress();
    error UnknownFlashSource(uint256 source);
    error UnknownHopKind(uint256 hop, uint256 kind);
    error UnexpectedCaller(address caller);
    error ForeignInitiator(address initiator);
    error V3PartialFill(address pool, uint256 consumed, uint256 wanted);
    error ProfitBelowMinimum(uint256 amountOut, uint256 owed, uint256 minProfit);
    error TransferFailed(address token, address to, uint256 amount);

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ owner entry points

    /// @notice Run one flash-funded arbitrage (`route`: the packed trade described above). Reverts
    /// unless the route returns at least principal + flash fee + minProfit of the profit token.
    function execute(bytes calldata route) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (paused) revert TradingPaused();
        if (_lock != 0) revert Reentrancy();
        _lock = 1;
        uint256 len = route.length;
        if (len < HEAD + 2 * HOP || len > HEAD + 4 * HOP || (len - HEAD) % HOP != 0) revert BadRouteLength(len);
        uint256 lw = _load(route, 20);
        uint256 amountIn = _load(route, 44) >> 144;
        if (amountIn == 0) revert ZeroAmount();
        if (_load(route, 0) >> 96 == 0) revert ZeroAddress();
        address lender = address(uint160(lw >> 96));
        uint256 source = uint8(lw >> 88);
        bool token1 = (lw >> 80) & 1 == 1;
        _lender = lender;
        if (source == SOURCE_AAVE) {
            IAavePoolLike(lender).flashLoanSimple(address(this), address(uint160(_load(route, HEAD + 24) >> 96)), amountIn, route, 0);
        } else if (source == SOURCE_V2) {
            uint256 last = HEAD + (len - HEAD - HOP);
            uint256 hop = _load(route, last);
            if (address(uint160(hop >> 96)) == lender) {
                // Fused flash swap: take the last hop's output (the profit token) now; the route pays
                // the lender its input in the callback.
                uint256 out = uint96(_load(route, last + 24));
                if (out == 0) revert ZeroAmount();
                (token1, amountIn) = ((hop >> 80) & 1 == 1, out);
            }
            (uint256 a0, uint256 a1) = token1 ? (uint256(0), amountIn) : (amountIn, uint256(0));
            IUniswapV2PairLike(lender).swap(a0, a1, address(this), route);
        } else if (source == SOURCE_V3) {
            (uint256 a0, uint256 a1) = token1 ? (uint256(0), amountIn) : (amountIn, uint256(0));
            IUniswapV3PoolLike(lender).flash(address(this), a0, a1, route);
        } else {
            revert UnknownFlashSource(source);
        }
        _lock = 0;
    }

    /// @notice Stop (or resume) trading; owner functions stay available.
    function setPaused(bool value) external onlyOwner {
        paused = value;
        emit PausedSet(value);
    }

    /// @notice Send stray tokens held by this contract to `to`.
    function rescue(address token, address to, uint256 amount) external onlyOwner {
        if (_lock != 0) revert Reentrancy();
        if (to == address(0)) revert ZeroAddress();
        _send(token, to, amount);
        emit Rescued(token, to, amount);
    }

    /// @notice Hand the contract to a new owner.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    // ------------------------------------------------------------------ flash callbacks

    /// @notice Aave V3 IFlashLoanSimpleReceiver callback (FlashLoanLogic.executeFlashLoanSimple).
    function executeOperation(address, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        _takeLender();
        if (initiator != address(this)) revert ForeignInitiator(initiator);
        uint256 out = _route(params, _hops(params), amount, address(this));
        uint256 owed = amount + premium;
        address token = _finish(params, out, owed, premium);
        // The pool pulls exactly `owed` with transferFrom, which spends this allowance back to zero.
        _call(token, 0x095ea7b3, msg.sender, owed);
        return true;
    }

    /// @notice Uniswap V2 flash-swap callback (UniswapV2Pair.swap calls it when data is not empty).
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        _takeLender();
        if (sender != address(this)) revert ForeignInitiator(sender);
        uint256 received = amount0 + amount1; // exactly one is non-zero
        uint256 n = _hops(data);
        uint256 amountIn = _load(data, 44) >> 144;
        if (address(uint160(_load(data, HEAD + (n - 1) * HOP) >> 96)) == msg.sender) {
            // Fused: `received` is the last hop's output; the other hops deliver its input to the pair,
            // whose K check then passes or reverts everything.
            _finish(data, received, amountIn, 0);
            _route(data, n - 1, amountIn, msg.sender);
        } else {
            uint256 out = _route(data, n, received, address(this));
            // Repay so that the pair's K check holds with the fee on the repaid input:
            // (r - x + y) * 10000 - y * feeBps >= r * 10000  <=>  y >= x * 10000 / (10000 - feeBps).
            uint256 keep = 10000 - uint16(_load(data, 20) >> 64);
            uint256 owed = (received * 10000 + keep - 1) / keep;
            address token = _finish(data, out, owed, owed - amountIn);
            _send(token, msg.sender, owed);
        }
    }

    /// @notice Uniswap V3 flash callback (UniswapV3Pool.flash).
    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external {
        _takeLender();
        uint256 fee = fee0 + fee1; // exactly one loan, so at most one fee is non-zero
        uint256 amountIn = _load(data, 44) >> 144;
        uint256 out = _route(data, _hops(data), amountIn, address(this));
        uint256 owed = amountIn + fee;
        address token = _finish(data, out, owed, fee);
        _send(token, msg.sender, owed);
    }

    /// @notice Uniswap V3 swap callback: pay the pool the input it asks for.
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external {
        if (msg.sender != _hopPool || msg.sender == address(0)) revert UnexpectedCaller(msg.sender);
        _hopPool = address(0); // one payment per swap
        address tokenIn = abi.decode(data, (address));
        _send(tokenIn, msg.sender, uint256(amount0Delta > 0 ? amount0Delta : amount1Delta));
    }

    // ------------------------------------------------------------------ internals

    /// The only caller accepted by a flash callback is the lender `execute` just called, once.
    function _takeLender() private {
        if (msg.sender != _lender) revert UnexpectedCaller(msg.sender);
        _lender = address(0);
    }

    /// The 32 bytes of `r` from `offset` (zero-padded past the end; `execute` checked the length).
    function _load(bytes calldata r, uint256 offset) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(r.offset, offset))
        }
    }

    function _hops(bytes calldata r) private pure returns (uint256) {
        unchecked {
            return (r.length - HEAD) / HOP; // r.length >= HEAD: it is the route `execute` checked
        }
    }

    /// Swap `amount` along hops[0:end], the last of them paying `last`; return the final output.
    /// A hop followed by a V2 hop sends its output straight to the next pair, which prices its input
    /// from its balance: one token transfer saved per such hop.
    function _route(bytes calldata r, uint256 end, uint256 amount, address last) private returns (uint256) {
        bool delivered = false; // the input already sits in this hop's pool
        uint256 hop = _load(r, HEAD);
        for (uint256 i = 0; i < end;) {
            uint256 next;
            address to = last;
            unchecked {
                if (i + 1 < end) {
                    next = _load(r, HEAD + (i + 1) * HOP);
                    to = uint8(next >> 88) == KIND_V2 ? address(uint160(next >> 96)) : address(this);
                }
            }
            address pool = address(uint160(hop >> 96));
            bool zeroForOne = (hop >> 80) & 1 == 1;
            uint256 kind = uint8(hop >> 88);
            uint256 tail;
            unchecked {
                tail = _load(r, HEAD + i * HOP + 24); // tokenIn | amountOut
            }
            if (kind == KIND_V2) {
                if (!delivered) _send(address(uint160(tail >> 96)), pool, amount);
                uint256 out = uint96(tail);
                if (out == 0) out = _v2AmountOut(pool, zeroForOne, amount, uint16(hop >> 64));
                (uint256 a0, uint256 a1) = zeroForOne ? (uint256(0), out) : (out, uint256(0));
                IUniswapV2PairLike(pool).swap(a0, a1, to, "");
                amount = out;
            } else if (kind == KIND_V3) {
                _hopPool = pool;
                (int256 d0, int256 d1) = IUniswapV3PoolLike(pool).swap(
                    to,
                    zeroForOne,
                    int256(amount),
                    zeroForOne ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE,
                    abi.encode(address(uint160(tail >> 96)))
                );
                (int256 paid, int256 got) = zeroForOne ? (d0, d1) : (d1, d0);
                if (uint256(paid) != amount) revert V3PartialFill(pool, uint256(paid), amount);
                amount = uint256(-got);
            } else {
                revert UnknownHopKind(i, kind);
            }
            delivered = to != address(this);
            hop = next;
            unchecked {
                ++i;
            }
        }
        return amount;
    }

    /// UniswapV2Library.getAmountOut with the fee in basis points (30 for Uniswap V2 gives exactly
    /// the pair's 997/1000, since scaling numerator and denominator by 10 leaves the floor unchanged).
    function _v2AmountOut(address pair, bool zeroForOne, uint256 amountIn, uint256 feeBps) private view returns (uint256) {
        (uint256 r0, uint256 r1,) = IUniswapV2PairLike(pair).getReserves();
        (uint256 rIn, uint256 rOut) = zeroForOne ? (r0, r1) : (r1, r0);
        uint256 inWithFee = amountIn * (10000 - feeBps);
        return (inWithFee * rOut) / (rIn * 10000 + inWithFee);
    }

    /// Check the profit, pay it to the recipient and emit the trade event; returns the profit token.
    function _finish(bytes calldata r, uint256 out, uint256 owed, uint256 fee) private returns (address token) {
        uint256 minProfit = _load(r, 58) >> 144;
        if (out < owed + minProfit) revert ProfitBelowMinimum(out, owed, minProfit);
        uint256 profit;
        unchecked {
            profit = out - owed; // out >= owed just checked
        }
        token = address(uint160(_load(r, HEAD + 24) >> 96));
        address recipient = address(uint160(_load(r, 0) >> 96));
        // recipient == this keeps the profit here for a later batched `rescue`: one transfer
        // (about 9 k gas with its Transfer event) less per trade.
        if (profit != 0 && recipient != address(this)) _send(token, recipient, profit);
        uint256 lw = _load(r, 20);
        emit Arbitrage(token, recipient, address(uint160(lw >> 96)), keccak256(r), uint8(lw >> 88), _load(r, 44) >> 144, out, fee, profit);
    }

    function _send(address token, address to, uint256 amount) private {
        _call(token, 0xa9059cbb, to, amount);
    }

    /// transfer/approve that accepts tokens returning nothing (but not addresses without code).
    function _call(address token, uint32 selector, address to, uint256 amount) private {
        bool ok;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, shl(224, selector))
            mstore(add(m, 4), to)
            mstore(add(m, 36), amount)
            ok := call(gas(), token, 0, m, 68, 0, 32)
            let rs := returndatasize()
            ok := and(ok, or(and(iszero(rs), gt(extcodesize(token), 0)), and(gt(rs, 31), eq(mload(0), 1))))
        }
        if (!ok) revert TransferFailed(token, to, amount);
    }
}
