//! INCRBYFLOAT's arithmetic exactly as Redis does it: Redis parses both numbers with C's
//! `strtold`, adds them as `long double` (on x86-64, the x87 80-bit format: a 64-bit
//! significand) and prints the sum with `%.17Lf`, trailing zeros trimmed. In `f64` the last
//! digits differ (10.5 + 0.1 would print 10.59999999999999964 where Redis prints 10.6), so the
//! three steps are done here exactly, with big integers: correctly rounded parsing, addition
//! rounded to 64 significant bits (ties to even), exact decimal printing.

use num_bigint::BigUint;

/// Significand bits of the x87 extended format.
const PRECISION: u32 = 64;
/// Smallest exponent of a normal number's leading bit.
const MIN_EXPONENT: i64 = -16382;
/// Largest exponent of a finite number's leading bit.
const MAX_EXPONENT: i64 = 16383;
/// Weight of the smallest denormal's bit: every value is a multiple of 2^LOWEST.
const LOWEST: i64 = MIN_EXPONENT - (PRECISION as i64 - 1);
/// Redis refuses float strings this long or longer (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;

/// A finite `long double`: `(-1)^negative * significand * 2^exponent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    significand: u64,
    exponent: i64,
}

/// Why a number or a sum is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatError {
    /// Not a float `strtold` reads whole, or out of its range (Redis: "value is not a valid
    /// float").
    NotAFloat,
    /// The number or the sum is infinite (Redis: "increment would produce NaN or Infinity").
    Infinite,
}

impl LongDouble {
    /// Parses `text` as Redis's `string2ld` does: all of it, no leading space, decimal or
    /// hexadecimal (`0x1.8p3`), `inf`/`infinity` (then [`FloatError::Infinite`]); no NaN, nothing
    /// that overflows or underflows to zero.
    pub fn parse(text: &[u8]) -> Result<LongDouble, FloatError> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return Err(FloatError::NotAFloat);
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let lower = body.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Err(FloatError::Infinite);
        }
        let (digits, exponent) = if lower.starts_with(b"0x") {
            parse_hex(&lower[2..])?
        } else {
            parse_decimal(&lower)?
        };
        let value = match digits {
            Digits::Zero => {
                return Ok(LongDouble {
                    negative,
                    significand: 0,
                    exponent: 0,
                })
            }
            Digits::Decimal(mantissa, power) => from_decimal(negative, mantissa, power),
            Digits::Binary(mantissa) => round(negative, mantissa, BigUint::from(1u8), exponent),
        };
        match value {
            // strtold's ERANGE: overflow, or a non-zero number that rounds to zero.
            Some(v) if v.significand != 0 => Ok(v),
            _ => Err(FloatError::NotAFloat),
        }
    }

    /// The sum, rounded to the nearest `long double` (ties to even); infinite sums refused.
    pub fn add(&self, other: &LongDouble) -> Result<LongDouble, FloatError> {
        if self.significand == 0 {
            return Ok(normal_zero(other, self));
        }
        if other.significand == 0 {
            return Ok(normal_zero(self, other));
        }
        let low = self.exponent.min(other.exponent);
        let a = BigUint::from(self.significand) << shift(self.exponent - low);
        let b = BigUint::from(other.significand) << shift(other.exponent - low);
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, a + b)
        } else if a >= b {
            (self.negative, a - b)
        } else {
            (other.negative, b - a)
        };
        if magnitude == BigUint::from(0u8) {
            // x + (-x) is +0 when rounding to nearest.
            return Ok(LongDouble {
                negative: false,
                significand: 0,
                exponent: 0,
            });
        }
        round(negative, magnitude, BigUint::from(1u8), low).ok_or(FloatError::Infinite)
    }

    /// `%.17Lf` with trailing zeros (and a trailing point) removed, `-0` written `0`: how
    /// Redis prints the result.
    pub fn to_redis_string(&self) -> String {
        let scale = BigUint::from(10u8).pow(17);
        let scaled = BigUint::from(self.significand) * &scale;
        let rounded = if self.exponent >= 0 {
            scaled << shift(self.exponent)
        } else {
            let divisor = BigUint::from(1u8) << shift(-self.exponent);
            let quotient = &scaled / &divisor;
            let remainder = scaled - &quotient * &divisor;
            round_half_even(quotient, remainder * 2u8, &divisor)
        };
        let integer = &rounded / &scale;
        let fraction = rounded - &integer * &scale;
        let mut text = format!("{integer}.{fraction:0>17}");
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
        if self.negative && text != "0" {
            text.insert(0, '-');
        }
        text
    }
}

/// INCRBYFLOAT: `value + increment` as Redis prints it, with Redis's errors (the value is
/// checked first, then the increment, then the sum).
pub fn incr_by_float(value: &[u8], increment: &[u8]) -> Result<String, super::ModifyError> {
    use super::ModifyError;
    let value = LongDouble::parse(value);
    let increment = LongDouble::parse(increment);
    let not_a_float = |e: &FloatError| *e == FloatError::NotAFloat;
    if value.as_ref().err().is_some_and(not_a_float)
        || increment.as_ref().err().is_some_and(not_a_float)
    {
        return Err(ModifyError::NotAFloat);
    }
    match (value, increment) {
        (Ok(value), Ok(increment)) => value
            .add(&increment)
            .map(|sum| sum.to_redis_string())
            .map_err(|_| ModifyError::NotFinite),
        _ => Err(ModifyError::NotFinite),
    }
}

/// `a + 0`: `a`, except that `-0 + -0` stays negative and `-0 + 0` is `+0`.
fn normal_zero(a: &LongDouble, zero: &LongDouble) -> LongDouble {
    if a.significand == 0 {
        return LongDouble {
            negative: a.negative && zero.negative,
            significand: 0,
            exponent: 0,
        };
    }
    a.clone()
}

fn shift(bits: i64) -> usize {
    usize::try_from(bits).unwrap_or(0)
}

/// `quotient`, or one more when the part left over (`twice_remainder / 2divisor`) is more
/// than a half, or exactly a half and `quotient` is odd.
fn round_half_even(quotient: BigUint, twice_remainder: BigUint, divisor: &BigUint) -> BigUint {
    let odd = quotient.bit(0);
    if twice_remainder > *divisor || (twice_remainder == *divisor && odd) {
        quotient + 1u8
    } else {
        quotient
    }
}

/// `numerator / denominator * 2^exponent` rounded to a `long double` (denormals included);
/// `None` when it overflows.
fn round(
    negative: bool,
    numerator: BigUint,
    denominator: BigUint,
    exponent: i64,
) -> Option<LongDouble> {
    // Scale so that the quotient has 64 bits, but never below the denormals' last bit.
    let estimate = numerator.bits() as i64 - denominator.bits() as i64;
    let mut k = i64::from(PRECISION) - 1 - estimate;
    loop {
        let k_used = k.min(exponent - LOWEST);
        let (n, d) = if k_used >= 0 {
            (&numerator << shift(k_used), denominator.clone())
        } else {
            (numerator.clone(), &denominator << shift(-k_used))
        };
        let quotient = &n / &d;
        let bits = quotient.bits();
        if bits > u64::from(PRECISION) {
            k -= 1;
            continue;
        }
        if bits < u64::from(PRECISION) && k_used == k {
            k += 1;
            continue;
        }
        let remainder = n - &quotient * &d;
        let mut rounded = round_half_even(quotient, remainder * 2u8, &d);
        let mut result_exponent = exponent - k_used;
        if rounded.bits() > u64::from(PRECISION) {
            rounded >>= 1;
            result_exponent += 1;
        }
        let significand = rounded.iter_u64_digits().next().unwrap_or(0);
        let lead = result_exponent + i64::from(PRECISION) - 1;
        if lead > MAX_EXPONENT {
            return None;
        }
        return Some(LongDouble {
            negative,
            significand,
            exponent: result_exponent,
        });
    }
}

/// The digits of a parsed number.
enum Digits {
    Zero,
    /// `mantissa * 10^power`.
    Decimal(BigUint, i64),
    /// `mantissa * 2^exponent` (the exponent comes separately).
    Binary(BigUint),
}

/// `[digits][.digits][e[+-]digits]` with at least one digit: the digits and the power of ten.
fn parse_decimal(text: &[u8]) -> Result<(Digits, i64), FloatError> {
    let (mantissa_text, exponent_text) = match text.iter().position(|&c| c == b'e') {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = split_point(mantissa_text)?;
    if whole.is_empty() && fraction.is_empty() {
        return Err(FloatError::NotAFloat);
    }
    if !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        return Err(FloatError::NotAFloat);
    }
    let exponent = match exponent_text {
        Some(t) => parse_exponent(t)?,
        None => 0,
    };
    let all: Vec<u8> = whole.iter().chain(fraction).copied().collect();
    let significant: &[u8] = match all.iter().position(|&c| c != b'0') {
        Some(first) => &all[first..],
        None => return Ok((Digits::Zero, 0)),
    };
    let power = exponent.saturating_sub(fraction.len() as i64);
    let magnitude = significant.len() as i64 + power;
    // Far outside the format's range (1e-4951 .. 1.2e4932): no need to compute.
    if magnitude > 4940 {
        return Ok((Digits::Decimal(BigUint::from(10u8).pow(4950), 0), 0));
    }
    if magnitude < -4960 {
        return Err(FloatError::NotAFloat);
    }
    let mantissa = BigUint::parse_bytes(significant, 10).ok_or(FloatError::NotAFloat)?;
    Ok((Digits::Decimal(mantissa, power), 0))
}

/// `[hexdigits][.hexdigits][p[+-]digits]` after `0x`: the digits as an integer and the power
/// of two.
fn parse_hex(text: &[u8]) -> Result<(Digits, i64), FloatError> {
    let (mantissa_text, exponent_text) = match text.iter().position(|&c| c == b'p') {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = split_point(mantissa_text)?;
    if whole.is_empty() && fraction.is_empty() {
        return Err(FloatError::NotAFloat);
    }
    if !whole.iter().chain(fraction).all(u8::is_ascii_hexdigit) {
        return Err(FloatError::NotAFloat);
    }
    let exponent = match exponent_text {
        Some(t) => parse_exponent(t)?,
        None => 0,
    };
    let all: Vec<u8> = whole.iter().chain(fraction).copied().collect();
    let mantissa = BigUint::parse_bytes(&all, 16).ok_or(FloatError::NotAFloat)?;
    if mantissa == BigUint::from(0u8) {
        return Ok((Digits::Zero, 0));
    }
    let power = exponent.saturating_sub(4 * fraction.len() as i64);
    if !(-40_000..=40_000).contains(&power) {
        return Err(FloatError::NotAFloat);
    }
    Ok((Digits::Binary(mantissa), power))
}

fn split_point(text: &[u8]) -> Result<(&[u8], &[u8]), FloatError> {
    match text.iter().position(|&c| c == b'.') {
        Some(at) => Ok((&text[..at], &text[at + 1..])),
        None => Ok((text, &[])),
    }
}

/// An exponent: optional sign, at least one digit (huge ones saturate).
fn parse_exponent(text: &[u8]) -> Result<i64, FloatError> {
    let (sign, digits) = match text.first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FloatError::NotAFloat);
    }
    let value = digits.iter().fold(0i64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Ok(sign * value)
}

/// `mantissa * 10^power` rounded to a `long double`.
fn from_decimal(negative: bool, mantissa: BigUint, power: i64) -> Option<LongDouble> {
    let ten = BigUint::from(10u8);
    if power >= 0 {
        let scaled = mantissa * ten.pow(u32::try_from(power).ok()?);
        round(negative, scaled, BigUint::from(1u8), 0)
    } else {
        let denominator = ten.pow(u32::try_from(-power).ok()?);
        round(negative, mantissa, denominator, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Result<String, FloatError> {
        let a = LongDouble::parse(a.as_bytes())?;
        let b = LongDouble::parse(b.as_bytes())?;
        Ok(a.add(&b)?.to_redis_string())
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        // The examples of Redis's INCRBYFLOAT documentation.
        assert_eq!(sum("10.50", "0.1"), Ok("10.6".into()));
        assert_eq!(sum("10.6", "-5"), Ok("5.6".into()));
        assert_eq!(sum("5.0e3", "2.0e2"), Ok("5200".into()));
        assert_eq!(sum("0", "3.0e3"), Ok("3000".into()));
        assert_eq!(sum("1", "-1"), Ok("0".into()));
        assert_eq!(sum("-0", "-0"), Ok("0".into()));
        assert_eq!(sum("0x10", "0x1p-1"), Ok("16.5".into()));
        assert_eq!(sum("1", ".5"), Ok("1.5".into()));
        assert_eq!(sum("1.", "1"), Ok("2".into()));
        assert_eq!(sum("+1", "1"), Ok("2".into()));
    }

    #[test]
    fn refuses_what_strtold_does_not_read_whole() {
        for bad in [
            "", " 1", "1 ", "1e", "e5", ".", "abc", "0x", "1.2.3", "nan", "1e99999", "1e-99999",
        ] {
            assert_eq!(
                LongDouble::parse(bad.as_bytes()),
                Err(FloatError::NotAFloat),
                "{bad:?}"
            );
        }
        assert_eq!(LongDouble::parse(b"inf"), Err(FloatError::Infinite));
        assert_eq!(LongDouble::parse(b"-Infinity"), Err(FloatError::Infinite));
        let huge = LongDouble::parse(b"1e4932").unwrap();
        assert_eq!(huge.add(&huge), Err(FloatError::Infinite));
    }

    /// Replies of redis-server 7.0.15 on x86-64, one command after another on one key.
    #[test]
    fn a_sequence_gives_redis_s_replies() {
        let mut value = b"10.50".to_vec();
        for (increment, expected) in [
            ("0.1", "10.6"),
            ("1000.1", "1010.69999999999999996"),
            (
                "1e300",
                "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144",
            ),
            ("-1e300", "0"),
            ("0.3333333333333333333333", "0.33333333333333333"),
            ("123456789.987654321", "123456790.3209876543332939"),
        ] {
            let sum = incr_by_float(&value, increment.as_bytes()).unwrap();
            assert_eq!(sum, expected, "+ {increment}");
            value = sum.into_bytes();
        }
        assert_eq!(incr_by_float(b"0x10", b"0.0001").unwrap(), "16.0001");
        assert_eq!(incr_by_float(b"3000", b"1e-20").unwrap(), "3000");
        use super::super::ModifyError;
        assert_eq!(incr_by_float(b"inf", b"1"), Err(ModifyError::NotFinite));
        assert_eq!(incr_by_float(b"1", b"inf"), Err(ModifyError::NotFinite));
        assert_eq!(incr_by_float(b"1", b"abc"), Err(ModifyError::NotAFloat));
        assert_eq!(incr_by_float(b"abc", b"inf"), Err(ModifyError::NotAFloat));
        assert_eq!(incr_by_float(b"inf", b"abc"), Err(ModifyError::NotAFloat));
        assert_eq!(incr_by_float(b"1", b"1e4933"), Err(ModifyError::NotAFloat));
    }

    #[test]
    fn rounds_to_64_bits_ties_to_even() {
        // 2^64 + 1 is not representable: it rounds to 2^64 (tie, even).
        let v = LongDouble::parse(b"18446744073709551617").unwrap();
        assert_eq!(v.to_redis_string(), "18446744073709551616");
        let v = LongDouble::parse(b"18446744073709551619").unwrap();
        assert_eq!(v.to_redis_string(), "18446744073709551620");
    }
}
