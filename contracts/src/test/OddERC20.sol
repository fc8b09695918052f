// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title OddERC20 (tests only)
/// @notice An ERC-20 with one of the non-standard behaviours found on mainnet, chosen at deployment:
/// 1 fee on transfer (1 % of every transfer burnt), 2 no return value (USDT-like), 3 returns false instead
/// of reverting when a transfer cannot be made, 4 reverts on a zero-value transfer, 5 rebasing (balances
/// are shares times an index that anyone can change; `rebaseOnTransfer` moves it on every transfer).
contract OddERC20 {
    uint256 public constant FEE_ON_TRANSFER = 1;
    uint256 public constant NO_RETURN = 2;
    uint256 public constant RETURNS_FALSE = 3;
    uint256 public constant REVERTS_ON_ZERO = 4;
    uint256 public constant REBASING = 5;

    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public immutable kind;
    uint256 public index = 1e18; // REBASING: balance = shares * index / 1e18
    int256 public rebaseOnTransfer; // REBASING: index change (per 1e18) applied after every transfer
    mapping(address => uint256) internal shares;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error Refused();

    constructor(string memory symbol_, uint8 decimals_, uint256 kind_) {
        name = symbol_;
        symbol = symbol_;
        decimals = decimals_;
        kind = kind_;
    }

    function balanceOf(address who) public view returns (uint256) {
        return kind == REBASING ? shares[who] * index / 1e18 : shares[who];
    }

    function mint(address to, uint256 amount) external {
        shares[to] += _shares(amount);
        emit Transfer(address(0), to, amount);
    }

    function setRebase(uint256 index_, int256 perTransfer) external {
        index = index_;
        rebaseOnTransfer = perTransfer;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return _done(true);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        return _done(_move(msg.sender, to, amount));
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) {
            if (kind == RETURNS_FALSE) return false;
            revert Refused();
        }
        allowance[from][msg.sender] = allowed - amount;
        return _done(_move(from, to, amount));
    }

    function _shares(uint256 amount) private view returns (uint256) {
        return kind == REBASING ? amount * 1e18 / index : amount;
    }

    function _move(address from, address to, uint256 amount) private returns (bool) {
        if (kind == REVERTS_ON_ZERO && amount == 0) revert Refused();
        if (balanceOf(from) < amount) {
            if (kind == RETURNS_FALSE) return false;
            revert Refused();
        }
        uint256 s = _shares(amount);
        shares[from] -= s;
        uint256 received = kind == FEE_ON_TRANSFER ? s - s / 100 : s;
        shares[to] += received;
        emit Transfer(from, to, amount);
        if (kind == REBASING && rebaseOnTransfer != 0) index = uint256(int256(index) + int256(index) * rebaseOnTransfer / 1e18);
        return true;
    }

    /// USDT-like tokens return nothing at all; the others return the outcome.
    function _done(bool ok) private view returns (bool) {
        if (kind == NO_RETURN) {
            assembly ("memory-safe") {
                return(0, 0)
            }
        }
        return ok;
    }
}
