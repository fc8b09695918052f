"""Unsigned 256-bit integers for numba kernels, and Solidity's ``FullMath`` over them.

A value is a ``UniTuple(uint64, 4)`` of little-endian limbs: ``(w0, w1, w2, w3)`` is
``w0 + w1 * 2**64 + w2 * 2**128 + w3 * 2**192``. Tuples live in registers: no operation
allocates. Signed (int256) values use the same limbs in two's complement.

The primitives are intrinsics that widen the limbs to one LLVM ``i256`` (or ``i512``) integer,
apply one instruction and split the result again; LLVM folds the packing away and emits the
carry chains and 64x64->128 multiplies itself. Division is not left to LLVM (a wide ``udiv``
becomes a bit-by-bit loop or a libgcc call the JIT cannot resolve): :func:`divrem` is Knuth's
algorithm D on 64-bit digits, each quotient digit estimated by a 128-by-64 division (by the
divisor's top digit's reciprocal, :func:`div_2by1`; the reciprocal itself from :func:`divlu`,
built from native 64-bit divisions) and corrected at most twice.

Shift amounts of 256 or more give 0 (LLVM's own shifts would be undefined there).

``FullMath`` (v3-core ``contracts/libraries/FullMath.sol``) and ``UnsafeMath.divRoundingUp``
(``contracts/libraries/UnsafeMath.sol``) return ``(code, value)``: :data:`OK` or the revert
reason's code (:data:`MULDIV_ZERO`, :data:`MULDIV_OVERFLOW`, :data:`MULDIV_UP_OVERFLOW`), as
:mod:`contracts.swapmath.libs` raises them. :func:`from_int` and :func:`to_int` convert to and
from Python ints (tests, facades). Thread safety: pure functions.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.core.extending import intrinsic

U256 = types.UniTuple(types.uint64, 4)
#: Status codes of the FullMath functions (0 is success).
OK, MULDIV_ZERO, MULDIV_OVERFLOW, MULDIV_UP_OVERFLOW = 0, 1, 2, 3
MASK64 = (1 << 64) - 1

_I1 = ir.IntType(1)
_I64 = ir.IntType(64)
_I256 = ir.IntType(256)
_I512 = ir.IntType(512)


def from_int(value: int) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """Limbs of ``value`` modulo 2**256 (a negative value gives its two's complement)."""
    value &= (1 << 256) - 1
    return (np.uint64(value & MASK64), np.uint64((value >> 64) & MASK64),
            np.uint64((value >> 128) & MASK64), np.uint64(value >> 192))


def to_int(limbs: tuple[int, ...], signed: bool = False) -> int:
    """The Python int of ``limbs`` (two's complement int256 when ``signed``)."""
    value = sum(int(w) << (64 * i) for i, w in enumerate(limbs))
    if signed and value >> 255:
        value -= 1 << 256
    return value


# --- LLVM helpers -------------------------------------------------------------------------------

def _pack(builder, tup, width=_I256):
    acc = ir.Constant(width, 0)
    for i in range(4):
        limb = builder.zext(builder.extract_value(tup, i), width)
        acc = builder.or_(acc, builder.shl(limb, ir.Constant(width, 64 * i)) if i else limb)
    return acc


def _unpack(context, builder, value, offset=0):
    width = value.type
    limbs = [builder.trunc(builder.lshr(value, ir.Constant(width, 64 * (i + offset)))
                           if i + offset else value, _I64) for i in range(4)]
    return context.make_tuple(builder, U256, limbs)


def _binary(op):
    """An intrinsic ``f(a: U256, b: U256) -> U256`` applying one i256 instruction."""
    def impl(typingctx, a, b):
        def codegen(context, builder, signature, args):
            return _unpack(context, builder, op(builder, _pack(builder, args[0]),
                                                _pack(builder, args[1])))
        return U256(U256, U256), codegen
    return intrinsic(impl)


def _compare(pred):
    def impl(typingctx, a, b):
        def codegen(context, builder, signature, args):
            return builder.icmp_unsigned(pred, _pack(builder, args[0]), _pack(builder, args[1]))
        return types.boolean(U256, U256), codegen
    return intrinsic(impl)


def _shift(kind):
    def impl(typingctx, a, n):
        if not isinstance(n, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            amount = context.cast(builder, args[1], signature.args[1], types.uint64)
            wide = builder.zext(amount, _I256)
            value = _pack(builder, args[0])
            shifted = getattr(builder, kind)(value, wide)
            too_far = builder.icmp_unsigned(">=", amount, ir.Constant(_I64, 256))
            fill = (builder.ashr(value, ir.Constant(_I256, 255)) if kind == "ashr"
                    else ir.Constant(_I256, 0))
            return _unpack(context, builder, builder.select(too_far, fill, shifted))
        return U256(U256, n), codegen
    return intrinsic(impl)


add = _binary(lambda b, x, y: b.add(x, y))
add.__doc__ = "``a + b`` modulo 2**256."
sub = _binary(lambda b, x, y: b.sub(x, y))
sub.__doc__ = "``a - b`` modulo 2**256 (two's complement)."
mul = _binary(lambda b, x, y: b.mul(x, y))
mul.__doc__ = "``a * b`` modulo 2**256."
or_ = _binary(lambda b, x, y: b.or_(x, y))
or_.__doc__ = "Bitwise or."
lt = _compare("<")
lt.__doc__ = "Unsigned ``a < b``."
le = _compare("<=")
le.__doc__ = "Unsigned ``a <= b``."
shl = _shift("shl")
shl.__doc__ = "``a << n`` modulo 2**256."
shr = _shift("lshr")
shr.__doc__ = "Logical ``a >> n``."
sar = _shift("ashr")
sar.__doc__ = "Arithmetic ``a >> n`` of an int256 (rounds towards minus infinity)."


@intrinsic
def add_carry(typingctx, a, b):
    """``(a + b mod 2**256, carry)``: carry is True when the true sum is 2**256 or more."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(257)
        total = builder.add(builder.zext(_pack(builder, args[0]), wide),
                            builder.zext(_pack(builder, args[1]), wide))
        carry = builder.trunc(builder.lshr(total, ir.Constant(wide, 256)), _I1)
        return context.make_tuple(builder, signature.return_type,
                                  [_unpack(context, builder, builder.trunc(total, _I256)), carry])
    return types.Tuple((U256, types.boolean))(U256, U256), codegen


@intrinsic
def mul_full(typingctx, a, b):
    """The 512-bit product ``a * b`` as ``(low 256 bits, high 256 bits)``."""
    def codegen(context, builder, signature, args):
        prod = builder.mul(builder.zext(_pack(builder, args[0]), _I512),
                           builder.zext(_pack(builder, args[1]), _I512))
        return context.make_tuple(builder, signature.return_type,
                                  [_unpack(context, builder, prod), _unpack(context, builder, prod, 4)])
    return types.UniTuple(U256, 2)(U256, U256), codegen


@intrinsic
def mul_128(typingctx, a, b):
    """The full product of the low 128 bits of ``a`` and of ``b`` (their high limbs ignored):
    four 64-bit multiplies where :func:`mul` needs ten."""
    def codegen(context, builder, signature, args):
        half = ir.IntType(128)
        x = builder.zext(builder.trunc(_pack(builder, args[0]), half), _I256)
        y = builder.zext(builder.trunc(_pack(builder, args[1]), half), _I256)
        return _unpack(context, builder, builder.mul(x, y))
    return U256(U256, U256), codegen


@intrinsic
def clz(typingctx, a):
    """Leading zero bits of ``a`` (256 for zero)."""
    def codegen(context, builder, signature, args):
        count = builder.ctlz(_pack(builder, args[0]), ir.Constant(_I1, 0))
        return builder.trunc(count, _I64)
    return types.int64(U256), codegen


@intrinsic
def _shl512(typingctx, hi, lo, n):
    """``(hi:lo) << n`` (n < 256) as (high, low), dropping bits past 512."""
    def codegen(context, builder, signature, args):
        value = builder.or_(builder.shl(builder.zext(_pack(builder, args[0]), _I512),
                                        ir.Constant(_I512, 256)),
                            builder.zext(_pack(builder, args[1]), _I512))
        amount = builder.zext(context.cast(builder, args[2], signature.args[2], types.uint64), _I512)
        out = builder.shl(value, amount)
        return context.make_tuple(builder, signature.return_type,
                                  [_unpack(context, builder, out, 4), _unpack(context, builder, out)])
    return types.UniTuple(U256, 2)(U256, U256, types.int64), codegen


@intrinsic
def _mul_digit(typingctx, a, q):
    """``a * q`` for a 64-bit ``q``: (low 256 bits, top 64 bits)."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(320)
        prod = builder.mul(builder.zext(_pack(builder, args[0]), wide), builder.zext(args[1], wide))
        top = builder.trunc(builder.lshr(prod, ir.Constant(wide, 256)), _I64)
        return context.make_tuple(builder, signature.return_type,
                                  [_unpack(context, builder, builder.trunc(prod, _I256)), top])
    return types.Tuple((U256, types.uint64))(U256, types.uint64), codegen


@intrinsic
def _clz64(typingctx, a):
    """Leading zero bits of a non-zero u64."""
    def codegen(context, builder, signature, args):
        return builder.zext(builder.ctlz(args[0], ir.Constant(_I1, 1)), _I64)
    return types.int64(types.uint64), codegen


@intrinsic
def is_zero(typingctx, a):
    """``a == 0``."""
    def codegen(context, builder, signature, args):
        return builder.icmp_unsigned("==", _pack(builder, args[0]), ir.Constant(_I256, 0))
    return types.boolean(U256), codegen


@njit(cache=True)
def divlu(u1, u0, v):
    """``(u1 * 2**64 + u0) // v`` and the remainder, for ``u1 < v`` (Hacker's Delight
    ``divlu``: two 64-by-32 digit steps on the normalized divisor)."""
    b = uint64(1) << uint64(32)
    low = uint64(0xFFFFFFFF)
    s = uint64(0)
    x = v
    if x <= uint64(0x00000000FFFFFFFF):
        s += uint64(32)
        x <<= uint64(32)
    if x <= uint64(0x0000FFFFFFFFFFFF):
        s += uint64(16)
        x <<= uint64(16)
    if x <= uint64(0x00FFFFFFFFFFFFFF):
        s += uint64(8)
        x <<= uint64(8)
    if x <= uint64(0x0FFFFFFFFFFFFFFF):
        s += uint64(4)
        x <<= uint64(4)
    if x <= uint64(0x3FFFFFFFFFFFFFFF):
        s += uint64(2)
        x <<= uint64(2)
    if x <= uint64(0x7FFFFFFFFFFFFFFF):
        s += uint64(1)
    v = v << s
    vn1 = v >> uint64(32)
    vn0 = v & low
    un32 = (u1 << s) | (u0 >> (uint64(64) - s)) if s > 0 else u1
    un10 = u0 << s
    un1 = un10 >> uint64(32)
    un0 = un10 & low
    q1 = un32 // vn1
    rhat = un32 - q1 * vn1
    while q1 >= b or q1 * vn0 > b * rhat + un1:
        q1 -= uint64(1)
        rhat += vn1
        if rhat >= b:
            break
    un21 = un32 * b + un1 - q1 * v
    q0 = un21 // vn1
    rhat = un21 - q0 * vn1
    while q0 >= b or q0 * vn0 > b * rhat + un0:
        q0 -= uint64(1)
        rhat += vn1
        if rhat >= b:
            break
    return q1 * b + q0, (un21 * b + un0 - q0 * v) >> s


@njit(cache=True)
def divrem(hi, lo, d):
    """``(hi:lo) // d`` and whether the remainder is non-zero, for ``hi < d`` (so the quotient
    fits 256 bits).

    Knuth's algorithm D with 64-bit digits: the divisor is shifted until its top bit is set
    (and the numerator with it, which still fits 512 bits because ``hi < d``); each quotient
    digit is estimated from the top two digits of the partial remainder by the divisor's top
    digit, which overestimates by at most 2, and corrected by comparing products. The digit
    estimates divide by one invariant 64-bit digit, so they multiply by its reciprocal
    (:func:`div_2by1`) instead of dividing.
    """
    if d[1] == 0 and d[2] == 0 and d[3] == 0:  # one-digit divisor: short division
        s = _clz64(d[0])
        dn = d[0] << uint64(s)
        v = reciprocal(dn)
        top, nl = _shl512(hi, lo, s)
        q3, r = div_2by1(top[0], nl[3], dn, v)
        q2, r = div_2by1(r, nl[2], dn, v)
        q1, r = div_2by1(r, nl[1], dn, v)
        q0, r = div_2by1(r, nl[0], dn, v)
        return (q0, q1, q2, q3), r != 0
    s = clz(d)
    dn = shl(d, s)
    v = reciprocal(dn[3])
    r, nl = _shl512(hi, lo, s)
    q3, r = _digit(r, nl[3], dn, v)
    q2, r = _digit(r, nl[2], dn, v)
    q1, r = _digit(r, nl[1], dn, v)
    q0, r = _digit(r, nl[0], dn, v)
    return (q0, q1, q2, q3), not is_zero(r)


@njit(cache=True, inline="always")
def _digit(r, limb, dn, v):
    """One quotient digit of ``(r * 2**64 + limb) // dn`` (``r < dn``, ``dn`` normalized, ``v``
    the reciprocal of its top digit) and the new remainder. The window's top digit is ``r[3]``,
    its low 256 bits ``wlow``."""
    wlow = (limb, r[0], r[1], r[2])
    if r[3] >= dn[3]:
        qhat = uint64(0xFFFFFFFFFFFFFFFF)
    else:
        qhat, _ = div_2by1(r[3], r[2], dn[3], v)
    plow, ptop = _mul_digit(dn, qhat)
    while ptop > r[3] or (ptop == r[3] and lt(wlow, plow)):
        qhat -= uint64(1)
        plow, borrow = _sub_borrow(plow, dn)
        ptop -= uint64(borrow)
    return qhat, sub(wlow, plow)


@njit(cache=True)
def reciprocal(d):
    """``floor((2**128 - 1) / d) - 2**64`` of a normalized digit ``d`` (top bit set): the
    multiplier of :func:`div_2by1` (Moeller and Granlund, "Improved division by invariant
    integers", IEEE Trans. Computers 60(2), 2011)."""
    q, _ = divlu(~d, uint64(0xFFFFFFFFFFFFFFFF), d)
    return q


@intrinsic
def div_2by1(typingctx, u1, u0, d, v):
    """``(u1 * 2**64 + u0) // d`` and the remainder for a normalized ``d``, ``u1 < d`` and
    ``v = reciprocal(d)``: one 64x64->128 multiply and two branch-free corrections (Moeller
    and Granlund 2011, algorithm 4)."""
    def codegen(context, builder, signature, args):
        a1, a0, dd, vv = args
        wide = ir.IntType(128)
        one = ir.Constant(_I64, 1)
        prod = builder.mul(builder.zext(vv, wide), builder.zext(a1, wide))
        num = builder.or_(builder.shl(builder.zext(a1, wide), ir.Constant(wide, 64)),
                          builder.zext(a0, wide))
        total = builder.add(prod, num)
        q0 = builder.trunc(total, _I64)
        q1 = builder.add(builder.trunc(builder.lshr(total, ir.Constant(wide, 64)), _I64), one)
        r = builder.sub(a0, builder.mul(q1, dd))
        high = builder.icmp_unsigned(">", r, q0)
        q1 = builder.select(high, builder.sub(q1, one), q1)
        r = builder.select(high, builder.add(r, dd), r)
        over = builder.icmp_unsigned(">=", r, dd)
        q1 = builder.select(over, builder.add(q1, one), q1)
        r = builder.select(over, builder.sub(r, dd), r)
        return context.make_tuple(builder, signature.return_type, [q1, r])
    return types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64,
                                           types.uint64), codegen


@intrinsic
def _sub_borrow(typingctx, a, b):
    """``(a - b mod 2**256, a < b)``."""
    def codegen(context, builder, signature, args):
        x, y = _pack(builder, args[0]), _pack(builder, args[1])
        return context.make_tuple(builder, signature.return_type, [
            _unpack(context, builder, builder.sub(x, y)), builder.icmp_unsigned("<", x, y)])
    return types.Tuple((U256, types.boolean))(U256, U256), codegen


@njit(cache=True, inline="always")
def mul_div(a, b, d):
    """FullMath.mulDiv: ``(code, floor(a * b / d))`` (v3-core ``FullMath.sol``)."""
    q, _ = mul_div_rem(a, b, d)
    return q


@njit(cache=True, inline="always")
def mul_div_rem(a, b, d):
    """FullMath.mulDiv and whether it rounded: ``((code, quotient), inexact)``."""
    zero = (uint64(0), uint64(0), uint64(0), uint64(0))
    if is_zero(d):
        return (MULDIV_ZERO, zero), False
    lo, hi = mul_full(a, b)
    if not lt(hi, d):
        return (MULDIV_OVERFLOW, zero), False
    if is_zero(hi) and lt(lo, d):
        return (OK, zero), not is_zero(lo)
    q, inexact = divrem(hi, lo, d)
    return (OK, q), inexact


@njit(cache=True, inline="always")
def mul_div_rounding_up(a, b, d):
    """FullMath.mulDivRoundingUp: ``(code, ceil(a * b / d))`` (v3-core ``FullMath.sol``)."""
    (code, q), inexact = mul_div_rem(a, b, d)
    if code != OK or not inexact:
        return code, q
    ones = uint64(0xFFFFFFFFFFFFFFFF)
    if q[0] == ones and q[1] == ones and q[2] == ones and q[3] == ones:
        return MULDIV_UP_OVERFLOW, q
    return OK, add(q, (uint64(1), uint64(0), uint64(0), uint64(0)))


@njit(cache=True, inline="always")
def div_rounding_up(x, y):
    """UnsafeMath.divRoundingUp: ``ceil(x / y)``, 0 when ``y`` is 0 as the EVM's ``DIV``
    (v3-core ``contracts/libraries/UnsafeMath.sol``)."""
    zero = (uint64(0), uint64(0), uint64(0), uint64(0))
    if is_zero(y):
        return zero
    if lt(x, y):
        return zero if is_zero(x) else (uint64(1), uint64(0), uint64(0), uint64(0))
    q, inexact = divrem(zero, x, y)
    return add(q, (uint64(inexact), uint64(0), uint64(0), uint64(0)))


@njit(cache=True, inline="always")
def div_floor(x, y):
    """``x // y`` for a non-zero ``y``."""
    if lt(x, y):
        return (uint64(0), uint64(0), uint64(0), uint64(0))
    q, _ = divrem((uint64(0), uint64(0), uint64(0), uint64(0)), x, y)
    return q
