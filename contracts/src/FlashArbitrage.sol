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
/// Encodings (built by contracts/arbitrage.py):
///   hop word   = pool (bits 0..159) | kind << 160 (0 = V2 pair, 1 = V3 pool) | v2FeeBps << 168
///   flash word = lender (bits 0..159) | source << 160 (0 = Aave, 1 = V2, 2 = V3)
///                | borrowToken1 << 168 (the loan is the lender's token1) | v2FeeBps << 176
/// A V2 flash whose lender is the route's first pair is "fused": the pair pays hop 1's output first and
/// is paid hop 1's input (amountIn) at the end, which is the Uniswap V2 flash swap in its native form.
contract FlashArbitrage {
    struct Trade {
        uint256[] hops; // hop words, 2..4
        address[] path; // tokens, hops.length + 1, path[0] == path[n] == profitToken
        uint256 amountIn; // raw units of profitToken borrowed (fused V2: paid into the first pair)
        uint256 flash; // flash word
        uint256 minProfit; // raw units of profitToken
        address profitToken;
        address recipient;
    }

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

    event Arbitrage(
        address indexed token,
        address indexed recipient,
        address indexed lender,
        uint256 source,
        uint256[] hops,
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
    error BadRouteLength(uint256 hops, uint256 tokens);
    error ProfitTokenMismatch(address profitToken, address first, address last);
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

    /// @notice Run one flash-funded arbitrage. Reverts unless the route returns at least
    /// principal + flash fee + minProfit of the profit token.
    function execute(Trade calldata t) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (paused) revert TradingPaused();
        if (_lock != 0) revert Reentrancy();
        _lock = 1;
        uint256 n = t.hops.length;
        if (n < 2 || n > 4 || t.path.length != n + 1) revert BadRouteLength(n, t.path.length);
        address token = t.profitToken;
        if (t.path[0] != token || t.path[n] != token) revert ProfitTokenMismatch(token, t.path[0], t.path[n]);
        if (t.amountIn == 0) revert ZeroAmount();
        if (t.recipient == address(0)) revert ZeroAddress();

        address lender = address(uint160(t.flash));
        uint256 source = uint8(t.flash >> 160);
        bool token1 = (t.flash >> 168) & 1 == 1;
        bytes memory data = abi.encode(t);
        _lender = lender;
        if (source == SOURCE_AAVE) {
            IAavePoolLike(lender).flashLoanSimple(address(this), token, t.amountIn, data, 0);
        } else if (source == SOURCE_V2) {
            if (address(uint160(t.hops[0])) == lender) {
                // Fused flash swap: take hop 1's output now, pay its input in the callback.
                uint256 out = _v2AmountOut(lender, token, t.path[1], t.amountIn, uint16(t.hops[0] >> 168));
                (uint256 a0, uint256 a1) = token < t.path[1] ? (uint256(0), out) : (out, uint256(0));
                IUniswapV2PairLike(lender).swap(a0, a1, address(this), data);
            } else {
                (uint256 a0, uint256 a1) = token1 ? (uint256(0), t.amountIn) : (t.amountIn, uint256(0));
                IUniswapV2PairLike(lender).swap(a0, a1, address(this), data);
            }
        } else if (source == SOURCE_V3) {
            (uint256 a0, uint256 a1) = token1 ? (uint256(0), t.amountIn) : (t.amountIn, uint256(0));
            IUniswapV3PoolLike(lender).flash(address(this), a0, a1, data);
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
        Trade memory t = abi.decode(params, (Trade));
        uint256 out = _route(t, 0, amount);
        uint256 owed = amount + premium;
        _finish(t, out, owed, premium);
        // The pool pulls exactly `owed` with transferFrom, which spends this allowance back to zero.
        _call(t.profitToken, 0x095ea7b3, msg.sender, owed);
        return true;
    }

    /// @notice Uniswap V2 flash-swap callback (UniswapV2Pair.swap calls it when data is not empty).
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        _takeLender();
        if (sender != address(this)) revert ForeignInitiator(sender);
        Trade memory t = abi.decode(data, (Trade));
        uint256 received = amount0 + amount1; // exactly one is non-zero
        uint256 out;
        uint256 owed;
        if (address(uint160(t.hops[0])) == msg.sender) {
            out = _route(t, 1, received); // hop 1 already happened: `received` is its output
            owed = t.amountIn;
        } else {
            out = _route(t, 0, received);
            // Repay so that the pair's K check holds with the fee on the repaid input:
            // (r - x + y) * 10000 - y * feeBps >= r * 10000  <=>  y >= x * 10000 / (10000 - feeBps).
            uint256 keep = 10000 - uint16(t.flash >> 176);
            owed = (received * 10000 + keep - 1) / keep;
        }
        _finish(t, out, owed, owed - t.amountIn);
        _send(t.profitToken, msg.sender, owed);
    }

    /// @notice Uniswap V3 flash callback (UniswapV3Pool.flash).
    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external {
        _takeLender();
        Trade memory t = abi.decode(data, (Trade));
        uint256 fee = fee0 + fee1; // exactly one loan, so at most one fee is non-zero
        uint256 out = _route(t, 0, t.amountIn);
        uint256 owed = t.amountIn + fee;
        _finish(t, out, owed, fee);
        _send(t.profitToken, msg.sender, owed);
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

    /// Swap `amount` along hops[start:], return the final output (held by this contract).
    /// A V2 hop followed by a V2 hop (or a V3 hop followed by a V2 hop) sends its output straight to the
    /// next pair, which prices its input from its balance: one token transfer saved per such hop.
    function _route(Trade memory t, uint256 start, uint256 amount) private returns (uint256) {
        uint256 n = t.hops.length;
        bool delivered = false; // the input already sits in this hop's pair
        for (uint256 i = start; i < n; ++i) {
            uint256 hop = t.hops[i];
            address pool = address(uint160(hop));
            address tokenIn = t.path[i];
            address tokenOut = t.path[i + 1];
            address to = address(this);
            if (i + 1 < n && uint8(t.hops[i + 1] >> 160) == KIND_V2) to = address(uint160(t.hops[i + 1]));
            uint256 kind = uint8(hop >> 160);
            if (kind == KIND_V2) {
                if (!delivered) _send(tokenIn, pool, amount);
                uint256 out = _v2AmountOut(pool, tokenIn, tokenOut, amount, uint16(hop >> 168));
                (uint256 a0, uint256 a1) = tokenIn < tokenOut ? (uint256(0), out) : (out, uint256(0));
                IUniswapV2PairLike(pool).swap(a0, a1, to, "");
                amount = out;
            } else if (kind == KIND_V3) {
                bool zeroForOne = tokenIn < tokenOut;
                _hopPool = pool;
                (int256 d0, int256 d1) = IUniswapV3PoolLike(pool).swap(
                    to, zeroForOne, int256(amount), zeroForOne ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE, abi.encode(tokenIn)
                );
                (int256 paid, int256 got) = zeroForOne ? (d0, d1) : (d1, d0);
                if (uint256(paid) != amount) revert V3PartialFill(pool, uint256(paid), amount);
                amount = uint256(-got);
            } else {
                revert UnknownHopKind(i, kind);
            }
            delivered = to != address(this);
        }
        return amount;
    }

    /// UniswapV2Library.getAmountOut with the fee in basis points (30 for Uniswap V2 gives exactly
    /// the pair's 997/1000, since scaling numerator and denominator by 10 leaves the floor unchanged).
    function _v2AmountOut(address pair, address tokenIn, address tokenOut, uint256 amountIn, uint256 feeBps)
        private
        view
        returns (uint256)
    {
        (uint256 r0, uint256 r1,) = IUniswapV2PairLike(pair).getReserves();
        (uint256 rIn, uint256 rOut) = tokenIn < tokenOut ? (r0, r1) : (r1, r0);
        uint256 inWithFee = amountIn * (10000 - feeBps);
        return (inWithFee * rOut) / (rIn * 10000 + inWithFee);
    }

    /// Check the profit, pay it to the recipient and emit the trade event.
    function _finish(Trade memory t, uint256 out, uint256 owed, uint256 fee) private {
        if (out < owed + t.minProfit) revert ProfitBelowMinimum(out, owed, t.minProfit);
        uint256 profit = out - owed;
        // recipient == this keeps the profit here for a later batched `rescue`: one transfer
        // (about 9 k gas with its Transfer event) less per trade.
        if (profit != 0 && t.recipient != address(this)) _send(t.profitToken, t.recipient, profit);
        emit Arbitrage(
            t.profitToken, t.recipient, address(uint160(t.flash)), uint8(t.flash >> 160), t.hops, t.amountIn, out, fee, profit
        );
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
