//! Retention periods as ISO 8601 durations (`P3M`, `P1Y`, `P30D`, `P1Y6M`).

use std::fmt;

/// A calendar period; months and years follow calendar arithmetic, not a fixed number of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Period {
    pub years: u16,
    pub months: u16,
    pub days: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration `{input}`: {why}; write an ISO 8601 period such as `P3M`, `P1Y` or `P30D`")]
pub struct BadDuration {
    pub input: String,
    pub why: &'static str,
}

impl Period {
    pub fn parse(input: &str) -> Result<Period, BadDuration> {
        let bad = |why| BadDuration {
            input: input.to_owned(),
            why,
        };
        let rest = input
            .strip_prefix('P')
            .ok_or_else(|| bad("it must start with `P`"))?;
        if rest.is_empty() {
            return Err(bad("it names no amount"));
        }
        let mut period = Period::default();
        let mut number = String::new();
        let mut last_unit = 0u8;
        for c in rest.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: u16 = number
                .parse()
                .map_err(|_| bad("each unit needs a whole number below 65536 before it"))?;
            number.clear();
            let order = match c {
                'Y' => 1,
                'M' => 2,
                'W' => 3,
                'D' => 4,
                _ => return Err(bad("only the units Y, M, W and D are allowed")),
            };
            if order <= last_unit {
                return Err(bad("units must appear once each, in the order Y, M, W, D"));
            }
            last_unit = order;
            match c {
                'Y' => period.years = n,
                'M' => period.months = n,
                'W' => period.days = period.days.saturating_add(n.saturating_mul(7)),
                _ => period.days = period.days.saturating_add(n),
            }
        }
        if !number.is_empty() {
            return Err(bad("a number at the end has no unit"));
        }
        if period == Period::default() {
            return Err(bad("a retention period must be longer than zero"));
        }
        Ok(period)
    }

    pub fn to_span(self) -> jiff::Span {
        jiff::Span::new()
            .years(i64::from(self.years))
            .months(i64::from(self.months))
            .days(i64::from(self.days))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        if self.years > 0 {
            write!(f, "{}Y", self.years)?;
        }
        if self.months > 0 {
            write!(f, "{}M", self.months)?;
        }
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Period;

    #[test]
    fn parses_the_periods_of_the_notice() {
        assert_eq!(Period::parse("P3M").map(|p| p.months), Ok(3));
        assert_eq!(Period::parse("P1Y").map(|p| p.years), Ok(1));
        assert_eq!(Period::parse("P2W").map(|p| p.days), Ok(14));
        assert_eq!(
            Period::parse("P1Y6M").map(|p| p.to_string()),
            Ok("P1Y6M".into())
        );
    }

    #[test]
    fn rejects_bad_periods_with_a_reason() {
        for bad in [
            "", "3M", "P", "PM", "P3", "P3X", "P1M1Y", "P0D", "P99999Y", "P1.5Y",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
