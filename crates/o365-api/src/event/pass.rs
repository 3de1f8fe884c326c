//! One pass over a content blob: it validates the blob as JSON (the grammar, UTF-8 and escapes,
//! accepting exactly what serde_json accepts) and, on the way, finds each event's bytes and the
//! top-level fields a collector needs. Nothing is copied or allocated per event unless a field's
//! value carries escapes. About twice as fast as serde_json's validation followed by a scan of
//! each event's keys, which it replaces.

use super::Text;

/// The fields found at the top level of one event; the first occurrence of a key counts.
#[derive(Default)]
pub(super) struct Found {
    pub id: Option<Text>,
    pub creation_time: Option<Text>,
    pub record_type: Option<i64>,
    pub operation: Option<Text>,
    pub workload: Option<Text>,
    pub user_id: Option<Text>,
}

/// One element of the blob's array: its bytes `start..end` and, when it is an object, its fields
/// (their ranges relative to `start`).
pub(super) struct Element {
    pub start: usize,
    pub end: usize,
    pub found: Option<Found>,
}

/// Why a blob is not valid JSON, and the byte offset where that was seen.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Invalid {
    pub at: usize,
    pub what: &'static str,
}

/// Validate `b` as a JSON array and return its elements.
pub(super) fn pass(b: &[u8]) -> Result<Vec<Element>, Invalid> {
    let mut p = Pass {
        b,
        i: 0,
        open: Vec::new(),
    };
    p.ws();
    if p.peek() != Some(b'[') {
        return Err(p.invalid("expected `[`: a content blob is a JSON array of events"));
    }
    p.i += 1;
    let mut out = Vec::new();
    p.ws();
    if p.peek() == Some(b']') {
        p.i += 1;
    } else {
        loop {
            let start = p.i;
            let found = if p.peek() == Some(b'{') {
                let mut f = Found::default();
                p.event(&mut f)?;
                Some(f)
            } else {
                p.value()?;
                None
            };
            out.push(Element {
                start,
                end: p.i,
                found,
            });
            if !p.comma_or(b']', "expected `,` or `]` after an event")? {
                break;
            }
        }
    }
    p.ws();
    if p.i != b.len() {
        return Err(p.invalid("text after the array's closing `]`"));
    }
    Ok(out)
}

struct Pass<'a> {
    b: &'a [u8],
    i: usize,
    /// The containers open inside the value being read (`[` or `{`).
    open: Vec<u8>,
}

impl Pass<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn invalid(&self, what: &'static str) -> Invalid {
        let what = if self.i >= self.b.len() {
            "the blob ends in the middle of a value"
        } else {
            what
        };
        Invalid { at: self.i, what }
    }

    /// After a member: `true` past a comma (another follows), `false` past `close`.
    fn comma_or(&mut self, close: u8, what: &'static str) -> Result<bool, Invalid> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.invalid(what)),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Any value, containers included, without recursion (nesting is not limited, as in
    /// serde_json's own pass over values it ignores).
    fn value(&mut self) -> Result<(), Invalid> {
        debug_assert!(self.open.is_empty());
        loop {
            match self.peek() {
                Some(b'"') => self.string().map(drop)?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(c @ (b'[' | b'{')) => {
                    self.i += 1;
                    self.ws();
                    let close = if c == b'[' { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        self.open.push(c);
                        if c == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                _ => return Err(self.invalid("expected a value")),
            }
            // A value is complete: close what it completes, up to the next value.
            loop {
                let Some(&open) = self.open.last() else {
                    return Ok(());
                };
                self.ws();
                match (self.peek(), open) {
                    (Some(b','), _) => {
                        self.i += 1;
                        self.ws();
                        if open == b'{' {
                            self.key()?;
                        }
                        break;
                    }
                    (Some(b']'), b'[') | (Some(b'}'), b'{') => {
                        self.i += 1;
                        self.open.pop();
                    }
                    (_, b'[') => return Err(self.invalid("expected `,` or `]`")),
                    _ => return Err(self.invalid("expected `,` or `}`")),
                }
            }
        }
    }

    /// A key and its colon, leaving the position at the value; returns the key's span (quotes
    /// included).
    fn key(&mut self) -> Result<Span, Invalid> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid("expected a key (a string in double quotes)"));
        }
        let at = self.i;
        let escaped = self.string()?;
        let end = self.i;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.invalid("expected `:` after a key"));
        }
        self.i += 1;
        self.ws();
        Ok(Span { at, end, escaped })
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.invalid("expected a value (true, false and null are lowercase)"))
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), Invalid> {
        const BAD: &str = "invalid number";
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.invalid("invalid number (no leading zeros)"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.invalid(BAD)),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.invalid(BAD));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.invalid(BAD));
            }
        }
        Ok(())
    }

    /// A string starting at its opening quote; returns whether it holds escapes.
    #[inline]
    fn string(&mut self) -> Result<bool, Invalid> {
        let j = self.i + 1;
        let j = j + plain_run(&self.b[j.min(self.b.len())..]);
        if self.b.get(j) == Some(&b'"') {
            self.i = j + 1;
            return Ok(false);
        }
        self.string_rest(j)
    }

    /// The rest of a string from `j`, a byte needing attention.
    fn string_rest(&mut self, mut j: usize) -> Result<bool, Invalid> {
        let b = self.b;
        let mut escaped = false;
        loop {
            j += plain_run(&b[j.min(b.len())..]);
            self.i = j;
            match b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i = j + 1;
                    match b.get(j + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                        Some(b'u') => {
                            let hex = b.get(j + 2..j + 6).unwrap_or_default();
                            if hex.len() == 4 && hex.iter().all(u8::is_ascii_hexdigit) {
                                j += 6;
                            } else {
                                self.i = j
                                    + 2
                                    + hex.iter().take_while(|c| c.is_ascii_hexdigit()).count();
                                return Err(self.invalid("invalid \\u escape (four hex digits)"));
                            }
                        }
                        _ => return Err(self.invalid("invalid escape in a string")),
                    }
                }
                Some(&c) if c >= 0x80 => {
                    j += utf8_char(&b[j..]).ok_or_else(|| self.invalid("invalid UTF-8"))?
                }
                Some(_) => {
                    return Err(self
                        .invalid("control character in a string (it must be escaped, e.g. \\n)"))
                }
                None => return Err(self.invalid("unterminated string")),
            }
        }
    }

    /// One event (an object at the blob's top level), noting the fields a collector needs
    /// (their ranges relative to the event's start).
    fn event(&mut self, found: &mut Found) -> Result<(), Invalid> {
        let start = self.i;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.key()?;
            let at = self.i;
            // A string directly, to learn whether it holds escapes.
            let escaped = match self.peek() {
                Some(b'"') => self.string()?,
                _ => self.value().map(|_| false)?,
            };
            let value = Span {
                at: at - start,
                end: self.i - start,
                escaped,
            };
            note(
                found,
                &self.b[key.at + 1..key.end - 1],
                key.escaped,
                &self.b[start..],
                value,
            );
            if !self.comma_or(b'}', "expected `,` or `}`")? {
                return Ok(());
            }
        }
    }
}

/// Bytes `at..end` of the blob or of an event; `escaped` when a string there holds escapes.
#[derive(Clone, Copy)]
struct Span {
    at: usize,
    end: usize,
    escaped: bool,
}

/// Note `value` (a span of `event`) if `key` is one of the fields a collector needs.
fn note(f: &mut Found, key: &[u8], key_escaped: bool, event: &[u8], value: Span) {
    let unescaped;
    let key = if key_escaped {
        let quoted = [b"\"", key, b"\""].concat();
        unescaped = serde_json::from_slice::<String>(&quoted).unwrap_or_default();
        unescaped.as_bytes()
    } else {
        key
    };
    let slot = match key {
        b"Id" => &mut f.id,
        b"CreationTime" => &mut f.creation_time,
        b"Operation" => &mut f.operation,
        b"Workload" => &mut f.workload,
        b"UserId" => &mut f.user_id,
        b"RecordType" => {
            if f.record_type.is_none() {
                let v = &event[value.at..value.end];
                let digits = match v {
                    [b'"', inner @ .., b'"'] => inner,
                    _ => v,
                };
                f.record_type = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| s.parse().ok());
            }
            return;
        }
        _ => return,
    };
    if slot.is_none() {
        *slot = string_value(event, value);
    }
}

/// A string value (quotes included): a range when plain, else unescaped.
fn string_value(event: &[u8], value: Span) -> Option<Text> {
    let v = &event[value.at..value.end];
    match v {
        [b'"', .., b'"'] if value.escaped => serde_json::from_slice(v).ok().map(Text::Owned),
        [b'"', .., b'"'] => Some(Text::Range(value.at as u32 + 1, value.end as u32 - 1)),
        _ => None,
    }
}

/// The length of one UTF-8 character at the start of `b` (its first byte ≥ 0x80), if valid.
fn utf8_char(b: &[u8]) -> Option<usize> {
    let width = match b[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let c = b.get(..width)?;
    std::str::from_utf8(c).ok().map(|_| width)
}

/// Bytes of a string looked at eight at a time before a run counts as long.
const SHORT: usize = 64;

/// How many bytes from the start of `b` need no attention in a string: up to the first `"`, `\`,
/// control character or (in a short run) non-ASCII byte. A long run is found with `memchr2` and
/// checked in bulk (control characters; UTF-8, so valid non-ASCII text needs no attention).
#[inline]
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut n = 0;
    for chunk in b[..b.len().min(SHORT)].chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let quote = x ^ (ONES * b'"' as u64);
        let backslash = x ^ (ONES * b'\\' as u64);
        // A byte's high bit is set where it is zero (`"`/`\` after the xor) or below 0x20; a
        // false positive can only follow a true one, so the lowest flag is exact. Non-ASCII
        // bytes have their own high bit set.
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x)
            | x;
        let flags = flags & HIGH;
        if flags != 0 {
            return n + (flags.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    if n < SHORT {
        return n + b[n..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
            .unwrap_or(b.len() - n);
    }
    n + long_run(&b[n..])
}

/// [`plain_run`] past its short stretch.
#[inline(never)]
fn long_run(rest: &[u8]) -> usize {
    let run = &rest[..memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len())];
    // Without an early exit, so that it is vectorised.
    let (lo, hi) = run
        .iter()
        .fold((u8::MAX, 0u8), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    let clean = if lo < 0x20 {
        &run[..run.iter().position(|&c| c < 0x20).unwrap_or(run.len())]
    } else {
        run
    };
    // The run ends before an ASCII byte, so valid text in it is whole characters.
    if hi >= 0x80 {
        std::str::from_utf8(clean).map_or_else(|e| e.valid_up_to(), |_| clean.len())
    } else {
        clean.len()
    }
}

#[cfg(test)]
mod tests;
