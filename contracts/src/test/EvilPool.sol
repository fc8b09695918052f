// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title EvilPool (tests only)
/// @notice Poses as a Uniswap V2 pair on a route and, when swapped with, attacks the FlashArbitrage that
/// called it: it re-enters `execute` or calls one of its callbacks itself. Any revert is bubbled up
/// unchanged so tests can read the victim's named error. It can also own a FlashArbitrage (to reach the
/// re-entry guard, which sits behind the owner check).
contract EvilPool {
    uint256 public mode; // 1 re-enter execute, 2 uniswapV2Call, 3 uniswapV3SwapCallback, 4 executeOperation, 5 uniswapV3FlashCallback
    bytes public replay; // calldata of `execute` to replay in mode 1

    function arm(uint256 mode_, bytes calldata replay_) external {
        mode = mode_;
        replay = replay_;
    }

    /// @notice Forward a call to `target` as this contract (used to call `execute` as owner).
    function forward(address target, bytes calldata data) external {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) _bubble(ret);
    }

    function getReserves() external pure returns (uint112, uint112, uint32) {
        return (1e24, 1e24, 0);
    }

    function swap(uint256, uint256, address, bytes calldata) external {
        bytes memory call_;
        if (mode == 1) call_ = replay;
        else if (mode == 2) call_ = abi.encodeWithSignature("uniswapV2Call(address,uint256,uint256,bytes)", msg.sender, 1, 0, "");
        else if (mode == 3) call_ = abi.encodeWithSignature("uniswapV3SwapCallback(int256,int256,bytes)", int256(1), int256(0), abi.encode(address(this)));
        else if (mode == 4) call_ = abi.encodeWithSignature("executeOperation(address,uint256,uint256,address,bytes)", address(this), 1, 0, msg.sender, "");
        else call_ = abi.encodeWithSignature("uniswapV3FlashCallback(uint256,uint256,bytes)", 0, 0, "");
        (bool ok, bytes memory ret) = msg.sender.call(call_);
        if (!ok) _bubble(ret);
    }

    function _bubble(bytes memory ret) private pure {
        assembly ("memory-safe") {
            revert(add(ret, 32), mload(ret))
        }
    }
}
