//! Durations written the way people write them: `90s`, `10m`, `1h30m`, `1d`.

use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// Why a duration string could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DurationError {
    #[error("duration is empty")]
    Empty,
    #[error("duration `{input}` has a number without a unit (write `90s`, `10m`, `1h30m`)")]
    MissingUnit { input: String },
    #[error("duration `{input}` has an unknown unit `{unit}` (use d, h, m, s or ms)")]
    UnknownUnit { input: String, unit: String },
    #[error("duration `{input}` is not of the form `1h30m` (digits, then a unit d, h, m, s or ms)")]
    Malformed { input: String },
    #[error("duration `{input}` is too large")]
    Overflow { input: String },
}

/// Parses `90s`, `10m`, `1h30m`, `2d`, `1h 30m`. Units: d, h, m, s.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    // Zero needs no unit.
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed
        .chars()
        .any(|c| !c.is_ascii_alphanumeric() && !c.is_whitespace())
    {
        return Err(DurationError::Malformed {
            input: input.into(),
        });
    }
    let mut total: u64 = 0;
    let mut chars = trimmed.chars().filter(|c| !c.is_whitespace()).peekable();
    while chars.peek().is_some() {
        let mut digits = String::new();
        while let Some(c) = chars.peek().filter(|c| c.is_ascii_digit()) {
            digits.push(*c);
            chars.next();
        }
        let mut unit = String::new();
        while let Some(c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
            unit.push(*c);
            chars.next();
        }
        if digits.is_empty() {
            return Err(DurationError::Malformed {
                input: input.into(),
            });
        }
        let factor = match unit.as_str() {
            "" => {
                return Err(DurationError::MissingUnit {
                    input: input.into(),
                });
            }
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" | "min" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            _ => {
                return Err(DurationError::UnknownUnit {
                    input: input.into(),
                    unit,
                });
            }
        };
        let n: u64 = digits.parse().map_err(|_| DurationError::Overflow {
            input: input.into(),
        })?;
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| DurationError::Overflow {
                input: input.into(),
            })?;
        if chars.peek().is_some_and(|c| !c.is_ascii_digit()) {
            return Err(DurationError::Malformed {
                input: input.into(),
            });
        }
    }
    Ok(Duration::from_millis(total))
}

/// Formats whole seconds compactly: `1h30m`, `10m`, `45s`, `0s`.
pub fn format(d: Duration) -> String {
    struct F(u64);
    impl fmt::Display for F {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let (mut s, mut wrote) = (self.0, false);
            for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
                if s >= size {
                    write!(f, "{}{unit}", s / size)?;
                    s %= size;
                    wrote = true;
                }
            }
            if !wrote {
                f.write_str("0s")?;
            }
            Ok(())
        }
    }
    F(d.as_secs()).to_string()
}

impl crate::diagnostic::Diagnostic for DurationError {
    fn hint(&self) -> Option<String> {
        Some("write durations like 90s, 10m or 1h30m".into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_common_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h 30m 5s"), Ok(Duration::from_secs(5405)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert!(matches!(
            parse("10"),
            Err(DurationError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse("10y"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(parse("h"), Err(DurationError::Malformed { .. })));
        assert!(matches!(parse("-5m"), Err(DurationError::Malformed { .. })));
        assert!(matches!(
            parse("1.5h"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            parse("99999999999999999999s"),
            Err(DurationError::Overflow { .. })
        ));
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1h30m", "10m", "45s", "1d1h1m1s", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
