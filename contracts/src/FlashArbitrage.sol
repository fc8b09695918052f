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
/// no router), repays the lender, pays the profit measured on its own balance to the recipient and emits
/// one `Arbitrage` event, or reverts with a named error. The threat model and the gas choices are in
/// contracts/README.md.
///
/// The trade is one packed byte string (built by contracts/arbitrage.py, `Trade.encode`), forwarded
/// unchanged as the flash callback's data (whose hash is checked there) and read in place:
///
///   head, 92 bytes:  recipient (20) | lender (20) | source (1: FlashSource of mesh/protocol, 1 Aave V3,
///                    2 Uniswap V2, 3 Uniswap V3) | lenderFlags (1: bits 0-1, the V2 lender's factory index)
///                    | lenderFee (2: V2 lender fee in bps, V3 lender pool fee in millionths, Aave maximum
///                    premium in bps) | amountIn (14) | minProfit (14) | lenderToken (20: the lender's other
///                    token; V2 and V3 lenders not on the route)
///   hop, 56 bytes:   pool (20) | kind (1: PoolKind of mesh/protocol, 1 V2 pair, 2 V3 pool) | hopFlags (1:
///                    bits 0-1, the V2 pair's factory index) | fee (2: V2 fee in bps for pricing, V3 pool
///                    fee in millionths) | tokenIn (20) | amountOut (12, V2 only)
///
/// The route is a cycle: the profit token is hop 0's tokenIn and hop i's output is hop i+1's tokenIn (the
/// last hop's is the profit token); the swap direction follows from the two addresses. Every pool and
/// lender must be genuine: a V2 pair or V3 pool at the CREATE2 address its factory would give it (factories
/// and init-code hashes fixed at deployment), the Aave pool fixed at deployment.
///
/// A V2 flash whose lender is the route's last pair is "fused": the pair pays the last hop's precomputed
/// output (the profit token) first and the route's other hops deliver its input straight into it.
contract FlashArbitrage {
    uint256 internal constant HEAD = 92;
    uint256 internal constant HOP = 56;
    uint256 internal constant KIND_V2 = 1;
    uint256 internal constant KIND_V3 = 2;
    uint256 internal constant SOURCE_AAVE = 1;
    uint256 internal constant SOURCE_V2 = 2;
    uint256 internal constant SOURCE_V3 = 3;
    uint256 internal constant MAX_V2_FACTORIES = 4;
    bytes32 internal constant CALLED_BACK = bytes32(uint256(1));
    uint160 internal constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740; // TickMath.MIN_SQRT_RATIO + 1
    uint160 internal constant MAX_SQRT_RATIO_MINUS_ONE = 1461446703485210103287273052203988822378723970341; // TickMath.MAX_SQRT_RATIO - 1

    /// Owner and pause flag share one storage slot: a trade pays one cold SLOAD for both checks.
    address public owner;
    bool public paused;
    /// The address `transferOwnership` named; it becomes owner when it calls `acceptOwnership`.
    address public pendingOwner;

    /// What the contract trusts besides its owner, fixed at deployment (see contracts/README.md).
    address public immutable AAVE_POOL;
    address public immutable V3_FACTORY;
    bytes32 public immutable V3_INIT_CODE_HASH;
    uint256 public immutable V2_FACTORY_COUNT;
    address internal immutable V2_FACTORY_0;
    address internal immutable V2_FACTORY_1;
    address internal immutable V2_FACTORY_2;
    address internal immutable V2_FACTORY_3;
    bytes32 internal immutable V2_HASH_0;
    bytes32 internal immutable V2_HASH_1;
    bytes32 internal immutable V2_HASH_2;
    bytes32 internal immutable V2_HASH_3;

    /// Trade context in transient storage (EIP-1153), every slot zero again when `execute` returns.
    /// keccak256 of the running trade until its lender calls back, then CALLED_BACK; non-zero is the
    /// re-entry lock. The lender allowed to call back is the one this route names.
    bytes32 private transient _routeHash;
    address private transient _hopPool; // the V3 pool allowed to call uniswapV3SwapCallback now (once)
    address private transient _hopToken; // the only token that callback may pay
    uint256 private transient _hopMax; // and at most this much of it

    /// `route` is keccak256 of the trade bytes (Trade.route_hash in Python: the executor matches it to the
    /// trade it sent, which holds every other field); `profit` is measured on the contract's balance of `token`.
    event Arbitrage(address indexed token, address indexed recipient, address indexed lender, bytes32 route, uint256 profit);
    event PausedSet(bool paused);
    event OwnershipTransferStarted(address indexed owner, address indexed pendingOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Rescued(address indexed token, address indexed to, uint256 amount);

    error BadFactoryList(uint256 factories, uint256 hashes);
    error NotOwner(address caller);
    error NotPendingOwner(address caller);
    error TradingPaused();
    error Reentrancy();
    error BadRouteLength(uint256 length);
    error ZeroAmount();
    error ZeroMinProfit();
    error ZeroAddress();
    error UnknownFlashSource(uint256 source);
    error UnknownHopKind(uint256 hop, uint256 kind);
    error UnknownPool(address pool);
    error UnknownLender(address lender);
    error UnexpectedCaller(address caller);
    error ForeignInitiator(address initiator);
    error ForeignData();
    error UnexpectedLoanToken(address token);
    error UnexpectedLoan(uint256 amount0, uint256 amount1);
    error UnexpectedFee(uint256 fee, uint256 expected);
    error UnexpectedPayment(uint256 asked, uint256 allowed);
    error V3PartialFill(address pool, uint256 consumed, uint256 wanted);
    error ProfitBelowMinimum(uint256 amountOut, uint256 owed, uint256 minProfit);
    error BalanceBelowRequired(address token, uint256 balance, uint256 required);
    error BadToken(address token);
    error TransferFailed(address token, address to, uint256 amount);

    /// @param aavePool The Aave V3 Pool (proxy) accepted as lender (zero: no Aave loans).
    /// @param v3Factory Uniswap V3 factory whose pools are accepted, with `v3InitCodeHash`, keccak256 of
    ///        the UniswapV3Pool creation code.
    /// @param v2Factories Up to 4 Uniswap V2 factories (or forks) whose pairs are accepted; a hop names its
    ///        pair's factory by index. `v2InitCodeHashes[i]` is keccak256 of factory i's pair creation code.
    constructor(
        address aavePool,
        address v3Factory,
        bytes32 v3InitCodeHash,
        address[] memory v2Factories,
        bytes32[] memory v2InitCodeHashes
    ) {
        uint256 n = v2Factories.length;
        if (n != v2InitCodeHashes.length || n > MAX_V2_FACTORIES) revert BadFactoryList(n, v2InitCodeHashes.length);
        AAVE_POOL = aavePool;
        V3_FACTORY = v3Factory;
        V3_INIT_CODE_HASH = v3InitCodeHash;
        V2_FACTORY_COUNT = n;
        V2_FACTORY_0 = n > 0 ? v2Factories[0] : address(0);
        V2_FACTORY_1 = n > 1 ? v2Factories[1] : address(0);
        V2_FACTORY_2 = n > 2 ? v2Factories[2] : address(0);
        V2_FACTORY_3 = n > 3 ? v2Factories[3] : address(0);
        V2_HASH_0 = n > 0 ? v2InitCodeHashes[0] : bytes32(0);
        V2_HASH_1 = n > 1 ? v2InitCodeHashes[1] : bytes32(0);
        V2_HASH_2 = n > 2 ? v2InitCodeHashes[2] : bytes32(0);
        V2_HASH_3 = n > 3 ? v2InitCodeHashes[3] : bytes32(0);
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ owner entry points

    /// @notice Run one flash-funded arbitrage (`route`: the packed trade described above). Reverts unless
    /// the contract ends with at least `minProfit` more of the profit token than it started with (before
    /// paying it out) and no less of any token it paid from during the route.
    function execute(bytes calldata route) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (paused) revert TradingPaused();
        if (_routeHash != 0) revert Reentrancy();
        uint256 len = route.length;
        if (len < HEAD + 2 * HOP || len > HEAD + 4 * HOP || (len - HEAD) % HOP != 0) revert BadRouteLength(len);
        uint256 amountIn = _load(route, 44) >> 144;
        if (amountIn == 0) revert ZeroAmount();
        uint256 minProfit = _load(route, 58) >> 144;
        if (minProfit == 0) revert ZeroMinProfit();
        address recipient = address(uint160(_load(route, 0) >> 96));
        if (recipient == address(0)) revert ZeroAddress();
        bytes32 hash = _hash(route);
        _routeHash = hash;

        address token = address(uint160(_load(route, HEAD + 24) >> 96));
        // Held balances that a route could spend: the profit token, and every token the contract pays
        // from its own balance (the input of a V3 hop after the first).
        (address[3] memory held, uint256[3] memory heldBefore) = _checkPools(route, token);
        uint256 before = _balance(token);
        uint256 lw = _load(route, 20);
        address lender = address(uint160(lw >> 96));
        uint256 source = uint8(lw >> 88);
        _checkLender(route, lender, source, token);
        if (source == SOURCE_AAVE) {
            IAavePoolLike(lender).flashLoanSimple(address(this), token, amountIn, route, 0);
        } else if (source == SOURCE_V2) {
            uint256 n = (len - HEAD) / HOP;
            (uint256 a0, uint256 a1) = _v2Loan(route, n, token, lender, amountIn);
            IUniswapV2PairLike(lender).swap(a0, a1, address(this), route);
        } else {
            (uint256 a0, uint256 a1) = token > _lenderToken(route) ? (uint256(0), amountIn) : (amountIn, uint256(0));
            IUniswapV3PoolLike(lender).flash(address(this), a0, a1, route);
        }

        uint256 balance = _balance(token);
        if (balance < before + minProfit) revert BalanceBelowRequired(token, balance, before + minProfit);
        for (uint256 i = 0; i < 3 && held[i] != address(0); ++i) {
            uint256 b = _balance(held[i]);
            if (b < heldBefore[i]) revert BalanceBelowRequired(held[i], b, heldBefore[i]);
        }
        uint256 profit;
        unchecked {
            profit = balance - before; // balance >= before + minProfit just checked
        }
        // recipient == this keeps the profit here for a later batched `rescue`: one transfer less.
        if (recipient != address(this)) _send(token, recipient, profit);
        emit Arbitrage(token, recipient, lender, hash, profit);
        _routeHash = 0; // also when the lender never called back
    }

    /// @notice Stop (or resume) trading; owner functions stay available.
    function setPaused(bool value) external onlyOwner {
        paused = value;
        emit PausedSet(value);
    }

    /// @notice Send tokens held by this contract to `to`.
    function rescue(address token, address to, uint256 amount) external onlyOwner {
        if (_routeHash != 0) revert Reentrancy();
        if (to == address(0)) revert ZeroAddress();
        _send(token, to, amount);
        emit Rescued(token, to, amount);
    }

    /// @notice Offer the contract to `newOwner`, who takes it with `acceptOwnership` (zero withdraws the offer).
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    /// @notice Take the ownership offered by `transferOwnership`.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner(msg.sender);
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    /// @notice V2 factory `i` and its pair init-code hash (zero past `V2_FACTORY_COUNT`).
    function v2Factory(uint256 i) external view returns (address factory, bytes32 initCodeHash) {
        return _v2Factory(i);
    }

    // ------------------------------------------------------------------ flash callbacks

    /// @notice Aave V3 IFlashLoanSimpleReceiver callback (FlashLoanLogic.executeFlashLoanSimple).
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        _enter(params);
        if (initiator != address(this)) revert ForeignInitiator(initiator);
        address token = address(uint160(_load(params, HEAD + 24) >> 96));
        if (asset != token) revert UnexpectedLoanToken(asset);
        uint256 amountIn = _load(params, 44) >> 144;
        if (amount != amountIn) revert UnexpectedLoan(amount, 0);
        uint256 maxFee = _ceilDiv(amountIn * uint16(_load(params, 20) >> 64), 10000);
        if (premium > maxFee) revert UnexpectedFee(premium, maxFee);
        uint256 out = _route(params, _hops(params), amountIn, address(this));
        uint256 owed = amountIn + premium;
        _checkOut(params, out, owed);
        // The pool pulls exactly `owed` with transferFrom, which spends this allowance back to zero.
        _call(token, 0x095ea7b3, msg.sender, owed);
        return true;
    }

    /// @notice Uniswap V2 flash-swap callback (UniswapV2Pair.swap calls it when data is not empty).
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        _enter(data);
        if (sender != address(this)) revert ForeignInitiator(sender);
        uint256 n = _hops(data);
        address token = address(uint160(_load(data, HEAD + 24) >> 96));
        uint256 amountIn = _load(data, 44) >> 144;
        (uint256 e0, uint256 e1) = _v2Loan(data, n, token, msg.sender, amountIn);
        if (amount0 != e0 || amount1 != e1) revert UnexpectedLoan(amount0, amount1);
        if (address(uint160(_load(data, HEAD + (n - 1) * HOP) >> 96)) == msg.sender) {
            // Fused: the loan is the last hop's output; the other hops deliver its input to the pair,
            // whose K check then passes or reverts everything.
            _checkOut(data, e0 + e1, amountIn);
            _route(data, n - 1, amountIn, msg.sender);
        } else {
            uint256 out = _route(data, n, amountIn, address(this));
            // Repay so that the pair's K check holds with the fee on the repaid input:
            // (r - x + y) * 10000 - y * feeBps >= r * 10000  <=>  y >= x * 10000 / (10000 - feeBps).
            uint256 owed = _ceilDiv(amountIn * 10000, 10000 - uint16(_load(data, 20) >> 64));
            _checkOut(data, out, owed);
            _send(token, msg.sender, owed);
        }
    }

    /// @notice Uniswap V3 flash callback (UniswapV3Pool.flash).
    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external {
        _enter(data);
        address token = address(uint160(_load(data, HEAD + 24) >> 96));
        uint256 amountIn = _load(data, 44) >> 144;
        // UniswapV3Pool.flash: fee = mulDivRoundingUp(amount, pool fee, 1e6), on the borrowed side only.
        uint256 fee = _ceilDiv(amountIn * uint16(_load(data, 20) >> 64), 1e6);
        (uint256 e0, uint256 e1) = token > _lenderToken(data) ? (uint256(0), fee) : (fee, uint256(0));
        if (fee0 != e0 || fee1 != e1) revert UnexpectedFee(fee0 + fee1, fee);
        uint256 out = _route(data, _hops(data), amountIn, address(this));
        uint256 owed = amountIn + fee;
        _checkOut(data, out, owed);
        _send(token, msg.sender, owed);
    }

    /// @notice Uniswap V3 swap callback: pay the pool of the current hop its input, in the hop's token and at
    /// most the hop's amount (both recorded before the swap; the callback's data is not used).
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        if (msg.sender != _hopPool) revert UnexpectedCaller(msg.sender); // zero outside a V3 hop
        _hopPool = address(0); // one payment per swap
        uint256 asked = uint256(amount0Delta > 0 ? amount0Delta : amount1Delta);
        uint256 allowed = _hopMax;
        if (asked == 0 || asked > allowed) revert UnexpectedPayment(asked, allowed);
        _send(_hopToken, msg.sender, asked);
    }

    // ------------------------------------------------------------------ internals

    /// Every flash callback: only the lender `execute` just called, once, with the trade it was given. The
    /// data's hash equals the running trade's (so the data is the route `execute` checked) and the route
    /// names the caller as its lender.
    function _enter(bytes calldata data) private {
        if (msg.sender != address(uint160(_load(data, 20) >> 96))) revert UnexpectedCaller(msg.sender);
        if (_hash(data) != _routeHash) revert ForeignData(); // zero outside a trade, CALLED_BACK after one call
        _routeHash = CALLED_BACK;
    }

    /// Check every hop's pool against its factory's CREATE2 address and snapshot the balances of the
    /// tokens the contract will pay from (other than `token`, the profit token).
    function _checkPools(bytes calldata r, address token)
        private
        view
        returns (address[3] memory held, uint256[3] memory before)
    {
        uint256 n = (r.length - HEAD) / HOP;
        uint256 k = 0;
        address tokenIn = token;
        for (uint256 i = 0; i < n;) {
            uint256 w;
            address tokenOut = token;
            unchecked {
                w = _load(r, HEAD + i * HOP);
                if (i + 1 < n) tokenOut = address(uint160(_load(r, HEAD + (i + 1) * HOP + 24) >> 96));
            }
            address pool = address(uint160(w >> 96));
            uint256 kind = uint8(w >> 88);
            address expected;
            if (kind == KIND_V2) {
                expected = _v2Pair(uint8(w >> 80) & 3, tokenIn, tokenOut);
            } else if (kind == KIND_V3) {
                expected = _v3Pool(tokenIn, tokenOut, uint16(w >> 64));
                if (i != 0 && tokenIn != token) {
                    (held[k], before[k]) = (tokenIn, _balance(tokenIn));
                    unchecked {
                        ++k; // at most 3: one per hop after the first
                    }
                }
            } else {
                revert UnknownHopKind(i, kind);
            }
            if (pool != expected) revert UnknownPool(pool);
            tokenIn = tokenOut;
            unchecked {
                ++i;
            }
        }
    }

    /// The lender, checked: the Aave pool of the deployment, or a genuine V2 pair / V3 pool of `token`.
    function _checkLender(bytes calldata r, address lender, uint256 source, address token) private view {
        uint256 lw = _load(r, 20);
        if (source == SOURCE_AAVE) {
            if (lender != AAVE_POOL || lender == address(0)) revert UnknownLender(lender);
        } else if (source == SOURCE_V2) {
            uint256 last = _load(r, r.length - HOP);
            if (address(uint160(last >> 96)) == lender) {
                if (uint8(last >> 88) != KIND_V2) revert UnknownLender(lender); // checked as a hop already
            } else if (lender != _v2Pair(uint8(lw >> 80) & 3, token, _lenderToken(r))) {
                revert UnknownLender(lender);
            }
        } else if (source == SOURCE_V3) {
            if (lender != _v3Pool(token, _lenderToken(r), uint16(lw >> 64))) revert UnknownLender(lender);
        } else {
            revert UnknownFlashSource(source);
        }
    }

    /// The amounts a V2 lender lends: a fused lender (the last hop's pair) pays the last hop's output in the
    /// profit token; any other pair lends `amountIn` of it.
    function _v2Loan(bytes calldata r, uint256 n, address token, address lender, uint256 amountIn)
        private
        pure
        returns (uint256, uint256)
    {
        uint256 off = HEAD + (n - 1) * HOP;
        address other;
        uint256 amount = amountIn;
        if (address(uint160(_load(r, off) >> 96)) == lender) {
            uint256 tail = _load(r, off + 24);
            other = address(uint160(tail >> 96));
            amount = uint96(tail);
            if (amount == 0) revert ZeroAmount();
        } else {
            other = _lenderToken(r);
        }
        return token > other ? (uint256(0), amount) : (amount, uint256(0));
    }

    function _lenderToken(bytes calldata r) private pure returns (address) {
        return address(uint160(_load(r, 72) >> 96));
    }

    function _v2Factory(uint256 i) private view returns (address, bytes32) {
        if (i == 0) return (V2_FACTORY_0, V2_HASH_0);
        if (i == 1) return (V2_FACTORY_1, V2_HASH_1);
        if (i == 2) return (V2_FACTORY_2, V2_HASH_2);
        if (i == 3) return (V2_FACTORY_3, V2_HASH_3);
        return (address(0), bytes32(0));
    }

    /// UniswapV2Library.pairFor: CREATE2 address of the (a, b) pair of V2 factory `i`.
    function _v2Pair(uint256 i, address a, address b) private view returns (address) {
        (address factory, bytes32 codeHash) = _v2Factory(i);
        (address t0, address t1) = a < b ? (a, b) : (b, a);
        bytes32 salt;
        assembly ("memory-safe") {
            mstore(0, shl(96, t0))
            mstore(20, shl(96, t1))
            salt := keccak256(0, 40)
        }
        return _create2(factory, salt, codeHash);
    }

    /// PoolAddress.computeAddress: CREATE2 address of the (a, b, fee) pool of the V3 factory.
    function _v3Pool(address a, address b, uint256 fee) private view returns (address) {
        (address t0, address t1) = a < b ? (a, b) : (b, a);
        bytes32 salt;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, t0)
            mstore(add(m, 32), t1)
            mstore(add(m, 64), fee)
            salt := keccak256(m, 96)
        }
        return _create2(V3_FACTORY, salt, V3_INIT_CODE_HASH);
    }

    function _create2(address deployer, bytes32 salt, bytes32 codeHash) private pure returns (address a) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, or(shl(160, 0xff), deployer)) // 0xff at byte 11, the deployer in bytes 12..31
            mstore(add(m, 32), salt)
            mstore(add(m, 64), codeHash)
            a := and(keccak256(add(m, 11), 85), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// The 32 bytes of `r` from `offset` (zero-padded past the end; `execute` checked the length).
    function _load(bytes calldata r, uint256 offset) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(r.offset, offset))
        }
    }

    function _hash(bytes calldata r) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, r.offset, r.length)
            h := keccak256(m, r.length)
        }
    }

    function _hops(bytes calldata r) private pure returns (uint256) {
        unchecked {
            return (r.length - HEAD) / HOP; // r is the route `execute` checked (its hash matched)
        }
    }

    function _ceilDiv(uint256 a, uint256 b) private pure returns (uint256) {
        return (a + b - 1) / b;
    }

    /// The route's own outputs must cover what is owed plus the minimum profit (an early, cheap check on
    /// reported amounts; `execute` then checks the balances).
    function _checkOut(bytes calldata r, uint256 out, uint256 owed) private pure {
        uint256 minProfit = _load(r, 58) >> 144;
        if (out < owed + minProfit) revert ProfitBelowMinimum(out, owed, minProfit);
    }

    /// Swap `amount` along hops[0:end], the last of them paying `last`; return the final output.
    /// A hop followed by a V2 hop sends its output straight to the next pair, which prices its input
    /// from its balance: one token transfer saved per such hop.
    function _route(bytes calldata r, uint256 end, uint256 amount, address last) private returns (uint256) {
        bool delivered = false; // the input already sits in this hop's pool
        uint256 n = _hops(r);
        uint256 hop = _load(r, HEAD);
        address tokenIn = address(uint160(_load(r, HEAD + 24) >> 96));
        address token = tokenIn;
        for (uint256 i = 0; i < end;) {
            uint256 next;
            address to = last;
            address tokenOut = token;
            unchecked {
                if (i + 1 < n) {
                    next = _load(r, HEAD + (i + 1) * HOP);
                    tokenOut = address(uint160(_load(r, HEAD + (i + 1) * HOP + 24) >> 96));
                    if (i + 1 < end) to = uint8(next >> 88) == KIND_V2 ? address(uint160(next >> 96)) : address(this);
                }
            }
            address pool = address(uint160(hop >> 96));
            bool zeroForOne = tokenIn < tokenOut;
            if (uint8(hop >> 88) == KIND_V2) {
                if (!delivered) _send(tokenIn, pool, amount);
                uint256 out;
                unchecked {
                    out = uint96(_load(r, HEAD + i * HOP + 24));
                }
                if (out == 0) out = _v2AmountOut(pool, zeroForOne, amount, uint16(hop >> 64));
                (uint256 a0, uint256 a1) = zeroForOne ? (uint256(0), out) : (out, uint256(0));
                IUniswapV2PairLike(pool).swap(a0, a1, to, "");
                amount = out;
            } else {
                // A V3 hop (execute checked every kind).
                (_hopPool, _hopToken, _hopMax) = (pool, tokenIn, amount);
                (int256 d0, int256 d1) = IUniswapV3PoolLike(pool).swap(
                    to, zeroForOne, int256(amount), zeroForOne ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE, ""
                );
                (_hopPool, _hopToken, _hopMax) = (address(0), address(0), 0);
                (int256 paid, int256 got) = zeroForOne ? (d0, d1) : (d1, d0);
                if (uint256(paid) != amount) revert V3PartialFill(pool, uint256(paid), amount);
                amount = got < 0 ? uint256(-got) : 0;
            }
            delivered = to != address(this);
            hop = next;
            tokenIn = tokenOut;
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

    /// This contract's balance of `token` (a token that does not answer balanceOf is refused).
    function _balance(address token) private view returns (uint256 b) {
        bool ok;
        assembly ("memory-safe") {
            mstore(0, shl(224, 0x70a08231))
            mstore(4, address())
            ok := staticcall(gas(), token, 0, 36, 0, 32)
            ok := and(ok, gt(returndatasize(), 31)) // Yul evaluates arguments right to left: call first
            b := mload(0)
        }
        if (!ok) revert BadToken(token);
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
