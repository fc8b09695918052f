// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC20Pull {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

interface IUniswapV3PoolOps {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1);
}

/// @title DevnetPeriphery
/// @notice Devnet helper that answers Uniswap V3 mint and swap callbacks (UniswapV3Pool.sol requires the
/// caller of mint/swap to pay in a callback), pulling the tokens from the account that called it. Not for
/// production: it exists so the devnet can add V3 liquidity and move V3 prices.
contract DevnetPeriphery {
    address private transient _pool;
    address private transient _payer;

    error UnexpectedCaller(address caller);
    error PullFailed(address token);

    /// @notice Add `liquidity` to [tickLower, tickUpper) of `pool`, owned by the caller.
    function mintV3(address pool, int24 tickLower, int24 tickUpper, uint128 liquidity)
        external
        returns (uint256 amount0, uint256 amount1)
    {
        _pool = pool;
        _payer = msg.sender;
        (amount0, amount1) = IUniswapV3PoolOps(pool).mint(msg.sender, tickLower, tickUpper, liquidity, "");
        _pool = address(0);
    }

    /// @notice Swap on `pool` (exact input when amountSpecified > 0), paying from the caller.
    function swapV3(address pool, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, address recipient)
        external
        returns (int256 amount0, int256 amount1)
    {
        _pool = pool;
        _payer = msg.sender;
        (amount0, amount1) = IUniswapV3PoolOps(pool).swap(recipient, zeroForOne, amountSpecified, sqrtPriceLimitX96, "");
        _pool = address(0);
    }

    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata) external {
        if (msg.sender != _pool) revert UnexpectedCaller(msg.sender);
        if (owed0 > 0) _pull(IUniswapV3PoolOps(msg.sender).token0(), owed0);
        if (owed1 > 0) _pull(IUniswapV3PoolOps(msg.sender).token1(), owed1);
    }

    function uniswapV3SwapCallback(int256 delta0, int256 delta1, bytes calldata) external {
        if (msg.sender != _pool) revert UnexpectedCaller(msg.sender);
        if (delta0 > 0) _pull(IUniswapV3PoolOps(msg.sender).token0(), uint256(delta0));
        if (delta1 > 0) _pull(IUniswapV3PoolOps(msg.sender).token1(), uint256(delta1));
    }

    function _pull(address token, uint256 amount) private {
        if (!IERC20Pull(token).transferFrom(_payer, msg.sender, amount)) revert PullFailed(token);
    }
}
