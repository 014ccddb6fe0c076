//! A validating scanner for the gate's events: one flat JSON object per message, its members
//! reported as byte spans of the input so the transform copies what it keeps without decoding
//! or allocating. Nested values are validated and skipped whole. Anything that is not one
//! well-formed object (trailing bytes, bad escapes, control characters, invalid UTF-8 in a
//! string, nesting deeper than [`MAX_DEPTH`]) is an error with its byte offset.

use std::ops::Range;

/// Nesting the scanner follows inside a member's value before it gives up.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A string; `escaped` when it holds a backslash escape.
    String {
        escaped: bool,
    },
    Number,
    /// `true`, `false` or `null`.
    Literal,
    /// An object or an array, validated.
    Nested,
}

/// One member of the object. `key` spans the key without its quotes; `value` spans the value,
/// a string's with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: Range<usize>,
    pub key_escaped: bool,
    pub value: Range<usize>,
    pub kind: ValueKind,
}

/// Where and why the input is not a well-formed JSON object. Never holds the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    pub offset: usize,
    pub what: &'static str,
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

type Scan<T> = Result<T, ScanError>;

impl Scanner<'_> {
    fn fail<T>(&self, what: &'static str) -> Scan<T> {
        Err(ScanError {
            offset: self.i,
            what,
        })
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Scan<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// At an opening quote: the string's end (after the closing quote) and whether it escapes.
    fn string(&mut self) -> Scan<bool> {
        self.expect(b'"', "expected a string")?;
        let mut escaped = false;
        loop {
            let rest = &self.b[self.i..];
            let end = memchr::memchr2(b'"', b'\\', rest);
            if let Some(ctl) = rest[..end.unwrap_or(rest.len())]
                .iter()
                .position(|&c| c < 0x20)
            {
                self.i += ctl;
                return self.fail("control character in a string");
            }
            let Some(rel) = end else {
                self.i = self.b.len();
                return self.fail("unterminated string");
            };
            self.i += rel;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Ok(escaped);
                }
                // A backslash: memchr2 finds nothing else.
                _ => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.fail("bad \\u escape");
                            }
                            self.i += 5;
                        }
                        _ => return self.fail("bad escape"),
                    }
                }
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Scan<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("bad number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.fail("bad number");
            }
        }
        let exponent = matches!(self.peek(), Some(b'e' | b'E'));
        if exponent {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.fail("bad number");
            }
        }
        // The grammar allows any magnitude, but consumers parse numbers as doubles and most
        // (serde_json among them) reject one that overflows; the gate passes numbers on
        // verbatim, so it must not accept what they cannot read. Only a number with an
        // exponent or hundreds of digits can overflow, so the common case pays nothing.
        let span = &self.b[start..self.i];
        if (exponent || span.len() > 300)
            && !std::str::from_utf8(span)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        {
            self.i = start;
            return self.fail("number out of range");
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Scan<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.fail("unknown literal")
        }
    }

    fn value(&mut self, depth: usize) -> Scan<ValueKind> {
        match self.peek() {
            Some(b'"') => self.string().map(|escaped| ValueKind::String { escaped }),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| ValueKind::Number),
            Some(b't') => self.literal(b"true").map(|()| ValueKind::Literal),
            Some(b'f') => self.literal(b"false").map(|()| ValueKind::Literal),
            Some(b'n') => self.literal(b"null").map(|()| ValueKind::Literal),
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return self.fail("nested too deep");
                }
                self.i += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(ValueKind::Nested);
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.expect(b':', "expected `:`")?;
                        self.ws();
                    }
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => {
                            self.i += 1;
                            self.ws();
                        }
                        Some(c) if c == close => {
                            self.i += 1;
                            return Ok(ValueKind::Nested);
                        }
                        _ => return self.fail("expected `,` or the closing bracket"),
                    }
                }
            }
            None => self.fail("unexpected end"),
            Some(_) => self.fail("expected a value"),
        }
    }
}

/// Scans `input` as one JSON object, calling `member` for each member in order. A trailing
/// newline (JSON lines) and surrounding white space are allowed.
pub fn scan_object(input: &[u8], mut member: impl FnMut(Member)) -> Result<(), ScanError> {
    // Validated once here, so strings need no check of their own.
    if let Err(e) = std::str::from_utf8(input) {
        return Err(ScanError {
            offset: e.valid_up_to(),
            what: "invalid UTF-8",
        });
    }
    let mut s = Scanner { b: input, i: 0 };
    s.ws();
    s.expect(b'{', "an event is a JSON object")?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            let key_start = s.i + 1;
            let key_escaped = s.string()?;
            let key = key_start..s.i - 1;
            s.ws();
            s.expect(b':', "expected `:`")?;
            s.ws();
            let value_start = s.i;
            let kind = s.value(1)?;
            member(Member {
                key,
                key_escaped,
                value: value_start..s.i,
                kind,
            });
            s.ws();
            match s.peek() {
                Some(b',') => {
                    s.i += 1;
                    s.ws();
                }
                Some(b'}') => {
                    s.i += 1;
                    break;
                }
                _ => return s.fail("expected `,` or `}`"),
            }
        }
    }
    s.ws();
    if s.i != input.len() {
        return s.fail("bytes after the object");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(input: &str) -> Result<Vec<(String, String, ValueKind)>, ScanError> {
        let mut out = Vec::new();
        scan_object(input.as_bytes(), |m| {
            out.push((
                input[m.key.clone()].to_owned(),
                input[m.value.clone()].to_owned(),
                m.kind,
            ))
        })?;
        Ok(out)
    }

    #[test]
    fn flat_objects_give_spans_in_order() {
        let got = members(
            r#" {"imsi":"262011234567890", "bytes": -12.5e3,"ok":true,"m":{"a":[1,{"b":null}]}}
"#,
        )
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].0, "imsi");
        assert_eq!(got[0].1, "\"262011234567890\"");
        assert_eq!(got[1].1, "-12.5e3");
        assert_eq!(got[1].2, ValueKind::Number);
        assert_eq!(got[2].2, ValueKind::Literal);
        assert_eq!(got[3].1, r#"{"a":[1,{"b":null}]}"#);
        assert_eq!(got[3].2, ValueKind::Nested);
        assert_eq!(members("{}").map(|m| m.len()), Ok(0));
        assert_eq!(
            members(r#"{"k\"ey":"a\u00e4b"}"#).map(|m| m[0].2),
            Ok(ValueKind::String { escaped: true })
        );
    }

    #[test]
    fn malformed_input_names_the_offset() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("[1]", 0),
            (r#"{"a":1"#, 6),
            (r#"{"a":1,}"#, 7),
            (r#"{"a":01}"#, 6),
            (r#"{"a":1.}"#, 7),
            (r#"{"a":tru}"#, 5),
            (r#"{"a":"x\q"}"#, 8),
            (r#"{"a":"x\u12"}"#, 8),
            ("{\"a\":\"x\ty\"}", 7),
            (r#"{"a":1} x"#, 8),
            (r#"{"a" 1}"#, 5),
            (r#"{"a":"unterminated"#, 18),
            (r#"{"ts":7173148000e24200}"#, 6),
            (r#"{"a":-1e309}"#, 5),
        ];
        for (input, offset) in cases {
            let e = members(input)
                .err()
                .unwrap_or_else(|| unreachable!("{input} scanned"));
            assert_eq!(e.offset, *offset, "{input}: {}", e.what);
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(
            members(&deep).err().map(|e| e.what),
            Some("nested too deep")
        );
        let huge = format!("{{\"a\":{}}}", "9".repeat(400));
        assert_eq!(
            members(&huge).err().map(|e| e.what),
            Some("number out of range")
        );
        assert!(members(r#"{"a":1e308,"b":-2.5E-400}"#).is_ok());
        let bad_utf8 = b"{\"a\":\"\xff\"}";
        assert!(scan_object(bad_utf8, |_| {}).is_err());
    }
}
