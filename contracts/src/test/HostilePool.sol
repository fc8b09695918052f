// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC20Min {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function balanceOf(address who) external view returns (uint256);
}

interface IFlashArbitrageCallbacks {
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool);
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external;
    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external;
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external;
}

/// @title HostilePool (tests only)
/// @notice Poses as a Uniswap V2 pair, a Uniswap V3 pool or an Aave V3 pool, and in `mode` deviates from
/// the genuine contract's behaviour to take what FlashArbitrage holds: forged amounts, fees, tokens, data
/// and initiators, re-entered or missing callbacks, short outputs. Mode 0 is honest: swaps at `rate`
/// (output = input * rate / 1e18, paid from what it holds), lends from what it holds, charges `fee`.
/// Reverts of the victim are bubbled up unchanged so tests read its named error.
contract HostilePool {
    uint256 public constant HONEST = 0;
    uint256 public constant ASK_MORE = 1; // V3 hop: ask twice the input in the swap callback
    uint256 public constant ASK_OUTPUT_SIDE = 2; // V3 hop: ask the input on the output token's side
    uint256 public constant SKIP_CALLBACK = 3; // hop or lender: report success, never call back, move nothing
    uint256 public constant PARTIAL = 4; // V3 hop: take and report half the input
    uint256 public constant REENTER = 5; // call back twice
    uint256 public constant SHORT_OUTPUT = 6; // hop: send half the reported output
    uint256 public constant FORGE_AMOUNT = 7; // lender: call back with twice the loan
    uint256 public constant FORGE_FEE = 8; // lender: call back with a huge fee / premium
    uint256 public constant FORGE_TOKEN = 9; // lender: call back naming the other token / side
    uint256 public constant FORGE_DATA = 10; // lender: call back with altered data
    uint256 public constant FORGE_INITIATOR = 11; // lender: call back naming itself as initiator
    uint256 public constant NO_LOAN = 12; // lender: call back without sending the loan
    uint256 public constant PULL_MORE = 13; // Aave lender: pull more than the approval after the callback
    uint256 public constant CALL_PAYLOAD = 14; // hop: call the victim with `payload` (re-entry as its owner)

    address public token0;
    address public token1;
    uint24 public fee; // V3 pool fee (millionths) or Aave premium (bps)
    uint256 public mode;
    uint256 public rate = 1e18;
    bytes public payload;

    error Bubble();

    function setup(address a, address b, uint24 fee_) external {
        (token0, token1) = a < b ? (a, b) : (b, a);
        fee = fee_;
    }

    function arm(uint256 mode_, uint256 rate_) external {
        mode = mode_;
        rate = rate_;
    }

    function setPayload(bytes calldata payload_) external {
        payload = payload_;
    }

    /// @notice Call `target` as this contract (to accept ownership of a FlashArbitrage and trade as its owner).
    function forward(address target, bytes calldata data) external {
        _call(target, data);
    }

    // ------------------------------------------------------------------ Uniswap V2 pair

    function getReserves() external view returns (uint112, uint112, uint32) {
        return (uint112(_held(token0)), uint112(_held(token1)), 0);
    }

    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external {
        if (data.length == 0) {
            if (mode == SKIP_CALLBACK) return;
            if (mode == CALL_PAYLOAD) _call(msg.sender, payload);
            if (mode == REENTER) {
                _call(msg.sender, abi.encodeCall(IFlashArbitrageCallbacks.uniswapV3SwapCallback, (int256(1), int256(1), "")));
            }
            uint256 div = mode == SHORT_OUTPUT ? 2 : 1;
            if (amount0Out > 0) IERC20Min(token0).transfer(to, amount0Out / div);
            if (amount1Out > 0) IERC20Min(token1).transfer(to, amount1Out / div);
            return;
        }
        // A V2 flash swap: lend, call back, trust the borrower (a genuine pair would check K).
        if (mode == SKIP_CALLBACK) return;
        if (mode != NO_LOAN) {
            if (amount0Out > 0) IERC20Min(token0).transfer(to, amount0Out);
            if (amount1Out > 0) IERC20Min(token1).transfer(to, amount1Out);
        }
        (uint256 a0, uint256 a1) = (amount0Out, amount1Out);
        if (mode == FORGE_AMOUNT) (a0, a1) = (a0 * 2, a1 * 2);
        if (mode == FORGE_TOKEN) (a0, a1) = (a1, a0);
        address sender = mode == FORGE_INITIATOR ? address(this) : msg.sender;
        bytes memory call_ = abi.encodeCall(IFlashArbitrageCallbacks.uniswapV2Call, (sender, a0, a1, _data(data)));
        _call(to, call_);
        if (mode == REENTER) _call(to, call_);
    }

    // ------------------------------------------------------------------ Uniswap V3 pool

    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1)
    {
        uint256 amountIn = uint256(amountSpecified);
        uint256 out = amountIn * rate / 1e18;
        (address tokenOut) = zeroForOne ? token1 : token0;
        if (mode == SKIP_CALLBACK) return zeroForOne ? (amountSpecified, -int256(out)) : (-int256(out), amountSpecified);
        uint256 asked = mode == ASK_MORE ? amountIn * 2 : (mode == PARTIAL ? amountIn / 2 : amountIn);
        (int256 d0, int256 d1) = zeroForOne ? (int256(asked), -int256(out)) : (-int256(out), int256(asked));
        if (mode == ASK_OUTPUT_SIDE) (d0, d1) = zeroForOne ? (int256(0), int256(asked)) : (int256(asked), int256(0));
        if (out > 0) IERC20Min(tokenOut).transfer(recipient, mode == SHORT_OUTPUT ? out / 2 : out);
        bytes memory call_ = abi.encodeCall(IFlashArbitrageCallbacks.uniswapV3SwapCallback, (d0, d1, data));
        _call(msg.sender, call_);
        if (mode == REENTER) _call(msg.sender, call_);
        return zeroForOne ? (int256(asked), -int256(out)) : (-int256(out), int256(asked));
    }

    function flash(address recipient, uint256 amount0, uint256 amount1, bytes calldata data) external {
        if (mode == SKIP_CALLBACK) return;
        if (mode != NO_LOAN) {
            if (amount0 > 0) IERC20Min(token0).transfer(recipient, amount0);
            if (amount1 > 0) IERC20Min(token1).transfer(recipient, amount1);
        }
        uint256 f0 = (amount0 * fee + 999_999) / 1e6;
        uint256 f1 = (amount1 * fee + 999_999) / 1e6;
        if (mode == FORGE_FEE) (f0, f1) = (f0 * 1000 + 1, f1 * 1000 + 1);
        if (mode == FORGE_TOKEN) (f0, f1) = (f1, f0);
        bytes memory call_ = abi.encodeCall(IFlashArbitrageCallbacks.uniswapV3FlashCallback, (f0, f1, _data(data)));
        _call(msg.sender, call_);
        if (mode == REENTER) _call(msg.sender, call_);
    }

    // ------------------------------------------------------------------ Aave V3 pool

    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata params, uint16) external {
        if (mode == SKIP_CALLBACK) return;
        if (mode != NO_LOAN) IERC20Min(asset).transfer(receiver, amount);
        uint256 premium = (amount * fee + 5000) / 10000;
        (address a, uint256 amt, uint256 p, address initiator) = (asset, amount, premium, msg.sender);
        if (mode == FORGE_AMOUNT) amt = amount * 2;
        if (mode == FORGE_FEE) p = amount;
        if (mode == FORGE_TOKEN) a = asset == token0 ? token1 : token0;
        if (mode == FORGE_INITIATOR) initiator = address(this);
        bytes memory call_ = abi.encodeCall(IFlashArbitrageCallbacks.executeOperation, (a, amt, p, initiator, _data(params)));
        _call(receiver, call_);
        if (mode == REENTER) _call(receiver, call_);
        uint256 pull = mode == PULL_MORE ? amount + premium + 1 : amount + premium;
        if (!IERC20Min(asset).transferFrom(receiver, address(this), pull)) revert Bubble();
    }

    // ------------------------------------------------------------------ helpers

    function _held(address token) private view returns (uint256) {
        return token == address(0) ? 0 : IERC20Min(token).balanceOf(address(this));
    }

    function _data(bytes calldata data) private view returns (bytes memory d) {
        d = data;
        if (mode == FORGE_DATA && d.length > 0) d[d.length - 1] = bytes1(uint8(d[d.length - 1]) ^ 1);
    }

    function _call(address target, bytes memory data) private {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}

/// @title HostileFactory (tests only)
/// @notice Deploys HostilePool at the CREATE2 addresses a Uniswap V2 factory (salt: the packed token pair)
/// or V3 factory (salt: token0, token1, fee) would use, so a FlashArbitrage deployed with this factory and
/// keccak256(type(HostilePool).creationCode) accepts them as genuine: the tests of what the contract's
/// other defences do when a trusted factory turns hostile.
contract HostileFactory {
    event Created(address pool);

    function initCodeHash() external pure returns (bytes32) {
        return keccak256(type(HostilePool).creationCode);
    }

    function create(address a, address b, uint24 fee, bool v3) external returns (address pool) {
        (address t0, address t1) = a < b ? (a, b) : (b, a);
        bytes32 salt = v3 ? keccak256(abi.encode(t0, t1, fee)) : keccak256(abi.encodePacked(t0, t1));
        pool = address(new HostilePool{salt: salt}());
        HostilePool(pool).setup(t0, t1, fee);
        emit Created(pool);
    }
}
