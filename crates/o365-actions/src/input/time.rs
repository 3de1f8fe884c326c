//! Times and durations as people type them, parsed with checked arithmetic.

use chrono::{DateTime, Duration, Utc};

use super::InputError;

/// Longest duration accepted anywhere (ten years).
pub const MAX_DURATION: Duration = Duration::days(3650);

/// RFC 3339, or `YYYY-MM-DDTHH:MM:SS` (UTC) as the service writes it.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(n.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err("expected a UTC time such as 2026-11-27T10:00:00Z (RFC 3339) or 2026-11-27T10:00:00".into())
}

/// `24h`, `90m`, `3d`, `45s` (a bare number is hours), within `[min, max]`.
pub fn parse_duration(
    field: &str,
    s: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, InputError> {
    let t = s.trim();
    let bad = |problem: String| InputError::new(field, Some(format!("{s:?}")), problem);
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| bad("expected a number and a unit, e.g. 24h, 90m, 3d, 30s".into()))?;
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        _ => return Err(bad("the unit must be s, m, h or d (e.g. 24h)".into())),
    };
    let d = n
        .checked_mul(seconds_per)
        .and_then(Duration::try_seconds)
        .filter(|d| *d <= MAX_DURATION);
    let range = || format!("allowed: {} to {}", human(min), human(max));
    match d {
        Some(d) if d >= min && d <= max => Ok(d),
        _ => Err(bad(range())),
    }
}

/// `10s`, `12h`, `7d`, in the largest whole unit.
pub fn human(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        _ if s != 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        _ if s != 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_within_their_range_and_never_overflow() {
        let day = Duration::days(1);
        let p = |s| parse_duration("--since", s, Duration::seconds(1), MAX_DURATION);
        assert_eq!(p("24h").unwrap(), day);
        assert_eq!(p("90m").unwrap(), Duration::minutes(90));
        assert_eq!(p("3d").unwrap(), Duration::days(3));
        assert_eq!(p("12").unwrap(), Duration::hours(12));
        for huge in [
            "99999999999999d",
            "999999999d",
            "9223372036854775807s",
            "3651d",
        ] {
            let e = p(huge).unwrap_err();
            assert!(e.problem.contains("allowed: 1s to 3650d"), "{huge}: {e}");
            assert_eq!(e.field, "--since");
        }
        assert!(p("0s").is_err());
        assert!(p("-1h").is_err());
        assert!(p("1w").unwrap_err().problem.contains("unit"));
        let e = parse_duration("--interval", "0s", Duration::seconds(10), day).unwrap_err();
        assert!(e.to_string().contains("allowed: 10s to 1d"), "{e}");
    }
}
