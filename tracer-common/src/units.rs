//! Parsing the units users type in flags, shared by `tracer` and the bundled workloads so
//! both accept the same spellings: durations ("10s", "250ms", "2m", "1.5s", bare seconds)
//! and sizes ("64M", "4k", "1GiB", bare bytes; binary multiples).
use core::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitError {
    NotANumber,
    UnknownUnit,
    NotPositive,
    TooLarge,
}

impl UnitError {
    /// What to tell the user, after the offending text.
    pub const fn hint(self, duration: bool) -> &'static str {
        match (self, duration) {
            (Self::NotANumber, true) => "is not a duration (try 10s, 500ms or 2m)",
            (Self::UnknownUnit, true) => "has an unknown unit (use ms, s, m or h)",
            (Self::NotANumber, false) => "is not a size (try 4096, 64k or 16M)",
            (Self::UnknownUnit, false) => "has an unknown unit (use k, M or G, optionally with iB or B)",
            (Self::NotPositive, _) => "must be greater than zero",
            (Self::TooLarge, _) => "is too large",
        }
    }
}

fn split_number(text: &str) -> (&str, &str) {
    let t = text.trim();
    let at = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    t.split_at(at)
}

pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (num, unit) = split_number(text);
    let value: f64 = num.parse().map_err(|_| UnitError::NotANumber)?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(UnitError::UnknownUnit),
    };
    let secs = value * scale;
    if secs.is_nan() || secs <= 0.0 {
        return Err(UnitError::NotPositive);
    }
    Duration::try_from_secs_f64(secs).map_err(|_| UnitError::TooLarge)
}

pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let (num, unit) = split_number(text);
    let value: u64 = num.parse().map_err(|_| UnitError::NotANumber)?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "k" | "K" | "KB" | "KiB" | "kB" | "kiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        _ => return Err(UnitError::UnknownUnit),
    };
    if value == 0 {
        return Err(UnitError::NotPositive);
    }
    value.checked_mul(1 << shift).ok_or(UnitError::TooLarge)
}

/// A duration flag (clap's `value_parser`), with the message a user can act on.
#[cfg(feature = "alloc")]
pub fn duration_flag(text: &str) -> Result<Duration, alloc::string::String> {
    parse_duration(text).map_err(|e| alloc::format!("`{text}` {}", e.hint(true)))
}

/// A size flag (4096, 64k, 16M), like [`duration_flag`].
#[cfg(feature = "alloc")]
pub fn size_flag(text: &str) -> Result<u64, alloc::string::String> {
    parse_size(text).map_err(|e| alloc::format!("`{text}` {}", e.hint(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Err(UnitError::NotPositive));
        assert_eq!(parse_duration("ten"), Err(UnitError::NotANumber));
        assert_eq!(parse_duration("3days"), Err(UnitError::UnknownUnit));
        assert_eq!(parse_duration("99999999999999999999999h"), Err(UnitError::TooLarge));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0"), Err(UnitError::NotPositive));
        assert_eq!(parse_size("12x"), Err(UnitError::UnknownUnit));
        assert_eq!(parse_size("-1"), Err(UnitError::NotANumber));
        assert_eq!(parse_size("99999999999999999G"), Err(UnitError::TooLarge));
    }
}
