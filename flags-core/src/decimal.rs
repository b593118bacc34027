//! Percentages in basis points, read from a JSON number's exact decimal text.
//!
//! `12.5`, `12.50` and `1.25e1` are all 1250 basis points; `12.345` has too
//! many decimals and is rejected rather than rounded. No `f64` is involved,
//! so every language that reads the file agrees on the value.

/// One hundred percent in basis points.
pub(crate) const FULL: u32 = 10_000;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BpError {
    /// More than two decimals.
    TooPrecise,
    /// Below 0 or above 100.
    OutOfRange,
}

/// Converts a JSON number literal (already checked against the JSON grammar)
/// into basis points, requiring `0 <= value <= 100` with at most two decimals.
pub(crate) fn basis_points(literal: &str) -> Result<u32, BpError> {
    let (negative, unsigned) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], &unsigned[i + 1..]),
        None => (unsigned, "0"),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // value = digits * 10^(exponent - frac_len); basis points = value * 100.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Ok(0); // 0, -0, 0.000, 0e5 ...
    }
    let trailing_zeros = (digits.len() - significant.len()) as i64;
    // Exponents beyond this are out of range whatever the digits.
    let exponent: i64 = match exponent.trim_start_matches('+').parse::<i64>() {
        Ok(e) => e,
        Err(_) if exponent.starts_with('-') => return Err(BpError::TooPrecise),
        Err(_) => return Err(BpError::OutOfRange),
    };
    let scale = exponent - frac_part.len() as i64 + trailing_zeros + 2;
    if scale < 0 {
        return Err(BpError::TooPrecise);
    }
    if negative {
        return Err(BpError::OutOfRange);
    }
    // significant * 10^scale must be <= 10000: at most 5 digits in all.
    if significant.len() as i64 + scale > 5 {
        return Err(BpError::OutOfRange);
    }
    let mut value: u32 = significant.parse().map_err(|_| BpError::OutOfRange)?;
    for _ in 0..scale {
        value *= 10;
    }
    if value > FULL {
        return Err(BpError::OutOfRange);
    }
    Ok(value)
}

/// Writes basis points back as the shortest percentage literal: 1250 -> `12.5`.
pub(crate) fn format_basis_points(bp: u32) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => whole.to_string(),
        frac if frac % 10 == 0 => format!("{whole}.{}", frac / 10),
        frac => format!("{whole}.{frac:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exact_decimals() {
        for (text, bp) in [
            ("0", 0),
            ("-0", 0),
            ("0.0", 0),
            ("0e9", 0),
            ("12.5", 1250),
            ("12.50", 1250),
            ("1.25e1", 1250),
            ("1250e-2", 1250),
            ("0.01", 1),
            ("99.99", 9999),
            ("100", 10_000),
            ("100.00", 10_000),
            ("1E2", 10_000),
            ("0.1E+1", 100),
            ("50", 5000),
        ] {
            assert_eq!(basis_points(text), Ok(bp), "{text}");
        }
    }

    #[test]
    fn rejects_what_it_cannot_represent() {
        for (text, err) in [
            ("12.345", BpError::TooPrecise),
            ("0.001", BpError::TooPrecise),
            ("1e-3", BpError::TooPrecise),
            ("1e-99999999999999999999", BpError::TooPrecise),
            ("100.01", BpError::OutOfRange),
            ("101", BpError::OutOfRange),
            ("-1", BpError::OutOfRange),
            ("-0.5", BpError::OutOfRange),
            ("1e3", BpError::OutOfRange),
            ("1e99999999999999999999", BpError::OutOfRange),
            ("123456789012345678901234567890", BpError::OutOfRange),
        ] {
            assert_eq!(basis_points(text), Err(err), "{text}");
        }
    }

    #[test]
    fn formats_shortest() {
        for (bp, text) in [
            (0, "0"),
            (1, "0.01"),
            (10, "0.1"),
            (1250, "12.5"),
            (1205, "12.05"),
            (10_000, "100"),
        ] {
            assert_eq!(format_basis_points(bp), text);
            assert_eq!(basis_points(text), Ok(bp));
        }
    }
}
