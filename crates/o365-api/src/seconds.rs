//! A time as the API writes `CreationTime`: `YYYY-MM-DDTHH:MM:SS`, written without chrono's
//! formatter (which costs more than the rest of a stored event).

use chrono::{Datelike as _, NaiveDateTime, Timelike as _};

/// Append `t` to `out` as `YYYY-MM-DDTHH:MM:SS` (exactly what `t.format("%Y-%m-%dT%H:%M:%S")`
/// writes).
pub fn push_seconds(t: &NaiveDateTime, out: &mut String) {
    let year = match u32::try_from(t.year()) {
        Ok(y) if y <= 9999 => y,
        // Outside four digits: as chrono writes it.
        _ => {
            use std::fmt::Write as _;
            let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S"));
            return;
        }
    };
    let mut b = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, digits: usize, mut v: u32| {
        for i in (at..at + digits).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

/// `t` as `YYYY-MM-DDTHH:MM:SS`, in a new string.
pub fn seconds(t: &NaiveDateTime) -> String {
    let mut s = String::with_capacity(19);
    push_seconds(t, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn written_as_chrono_writes_them(secs in -62_135_596_800i64..400_000_000_000, nanos in 0u32..1_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, nanos).unwrap().naive_utc();
            prop_assert_eq!(super::seconds(&t), t.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
    }
}
