//! Pseudonymisation (N7b, N7c, N16, N25): FF1 against NIST's samples, format-preserving
//! pseudonyms of identifiers, domain separation, and CSV tables streamed in pieces.

use tutela_core::checksum::{iban_valid, luhn_valid};
use tutela_core::pseudonym::ff1::{Ff1, Ff1Error};
use tutela_core::pseudonym::table::{
    ColumnSpec, OnBadRow, RowError, TableError, TablePseudonymiser,
};
use tutela_core::pseudonym::{DomainPseudonyms, Identifier, Method, PseudonymKeys};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| unreachable!("{e}")))
        .collect()
}

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn numerals(s: &str) -> Vec<u8> {
    s.bytes()
        .map(|c| {
            ALPHABET
                .iter()
                .position(|&a| a == c)
                .unwrap_or_else(|| unreachable!()) as u8
        })
        .collect()
}

fn text(n: &[u8]) -> String {
    n.iter()
        .map(|&d| char::from(ALPHABET[usize::from(d)]))
        .collect()
}

/// NIST SP 800-38G, FF1 samples 1–9 (AES-128, -192, -256; radix 10 and 36).
#[test]
fn ff1_matches_the_nist_samples() {
    let k128 = "2B7E151628AED2A6ABF7158809CF4F3C";
    let k192 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
    let k256 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
    let t10 = "39383736353433323130";
    let t36 = "3737373770717273373737";
    let samples = [
        (k128, "", 10, "0123456789", "2433477484"),
        (k128, t10, 10, "0123456789", "6124200773"),
        (k128, t36, 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"),
        (k192, "", 10, "0123456789", "2830668132"),
        (k192, t10, 10, "0123456789", "2496655549"),
        (k192, t36, 36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"),
        (k256, "", 10, "0123456789", "6657667009"),
        (k256, t10, 10, "0123456789", "1001623463"),
        (k256, t36, 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
    ];
    for (i, (key, tweak, radix, pt, ct)) in samples.into_iter().enumerate() {
        let ff1 = Ff1::new(&hex(key), radix).unwrap();
        let mut x = numerals(pt);
        ff1.encrypt(&hex(tweak), &mut x).unwrap();
        assert_eq!(text(&x), ct, "sample {}", i + 1);
        ff1.decrypt(&hex(tweak), &mut x).unwrap();
        assert_eq!(text(&x), pt, "sample {} decrypted", i + 1);
    }
}

#[test]
fn ff1_refuses_domains_below_a_million_and_bad_numerals() {
    let ff1 = Ff1::new(&[7; 32], 10).unwrap();
    assert_eq!(
        ff1.encrypt(b"", &mut [1, 2, 3, 4, 5]),
        Err(Ff1Error::Length(5))
    );
    assert_eq!(
        ff1.encrypt(b"", &mut [1, 2, 3, 4, 5, 10]),
        Err(Ff1Error::Numeral)
    );
    assert!(ff1.encrypt(b"", &mut [1, 2, 3, 4, 5, 6]).is_ok());
    assert!(matches!(Ff1::new(&[0; 15], 10), Err(Ff1Error::KeyLength)));
    // 56 digits is the longest decimal string whose halves fit.
    assert!(ff1.encrypt(b"", &mut [3; 56]).is_ok());
    assert_eq!(ff1.encrypt(b"", &mut [3; 58]), Err(Ff1Error::Length(58)));
}

fn keys() -> PseudonymKeys {
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = i as u8;
    }
    PseudonymKeys::new("pk-test", secret)
}

fn domain(name: &str) -> DomainPseudonyms {
    keys()
        .domain(name, None)
        .unwrap_or_else(|e| unreachable!("{e}"))
}

/// Pinned: the HMAC pseudonym is HMAC-SHA-256 under the domain key, truncated to 128 bits, as
/// Python's hmac module computes it from the same secret and label.
#[test]
fn hmac_pseudonyms_are_pinned_and_differ_between_domains() {
    let quality = domain("service_quality_analysis");
    let stats = domain("statistics");
    let p = quality.pseudonym(Method::Hmac, "262011234567890").unwrap();
    assert_eq!(p, "a2bec47c5549a8e1159e8d63948b75b5");
    assert_eq!(
        quality.pseudonym(Method::Hmac, "262011234567890").unwrap(),
        p
    );
    assert_ne!(stats.pseudonym(Method::Hmac, "262011234567890").unwrap(), p);
    assert_ne!(
        stats
            .pseudonym(Method::Ff1(Identifier::Imsi), "262011234567890")
            .unwrap(),
        quality
            .pseudonym(Method::Ff1(Identifier::Imsi), "262011234567890")
            .unwrap()
    );
}

#[test]
fn identifiers_keep_their_format_prefix_and_check_digits_and_reverse() {
    let d = domain("service_quality_analysis");
    let cases = [
        (Identifier::Imsi, "262011234567890", 5),
        (Identifier::Imsi, "310150123456789", 6),
        (Identifier::Iccid, "8949020000001234562", 7),
        (Identifier::Imei, "490154203237518", 8),
        (Identifier::Msisdn, "+4915112345678", 3),
        (Identifier::Msisdn, "14155552671", 1),
        (Identifier::Msisdn, "+35312345678", 4),
        (Identifier::Iban, "DE89370400440532013000", 2),
        (Identifier::Iban, "GB82WEST12345698765432", 2),
        // The printed form keeps its spaces and case.
        (Identifier::Iban, "DE89 3704 0044 0532 0130 00", 2),
        (Identifier::Iban, "gb82 west 1234 5698 7654 32", 2),
    ];
    for (id, value, kept) in cases {
        let p = d.pseudonym(Method::Ff1(id), value).unwrap();
        assert_eq!(p.len(), value.len(), "{value}");
        assert_eq!(p[..kept], value[..kept], "{value}: the prefix stays");
        assert_ne!(p, value);
        match id {
            Identifier::Imei | Identifier::Iccid => assert!(luhn_valid(p.as_bytes()), "{p}"),
            Identifier::Iban => {
                let compact: Vec<u8> = p
                    .bytes()
                    .filter(|&c| c != b' ')
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                assert!(iban_valid(&compact), "{p}");
                let spaces = |s: &str| {
                    s.chars()
                        .map(|c| c == ' ' || c.is_ascii_lowercase())
                        .collect::<Vec<_>>()
                };
                assert_eq!(spaces(&p), spaces(value), "{p}");
                // Letters of the account part stay where they were.
                let letters = |s: &str| {
                    s.chars()
                        .map(|c| c.is_ascii_alphabetic())
                        .collect::<Vec<_>>()
                };
                assert_eq!(letters(&p), letters(value));
            }
            _ => assert!(
                p.trim_start_matches('+')
                    .bytes()
                    .all(|c| c.is_ascii_digit())
            ),
        }
        assert_eq!(d.reverse(id, &p).unwrap(), value, "{value}");
    }
}

#[test]
fn malformed_identifiers_are_refused_without_their_value() {
    let d = domain("q");
    for (id, value) in [
        (Identifier::Imsi, "26201123"),
        (Identifier::Imei, "490154203237519"),
        (Identifier::Iccid, "8949020000001234563"),
        (Identifier::Iban, "DE89370400440532013001"),
        (Identifier::Msisdn, "015112345678"),
        (Identifier::Msisdn, "+3531234"),
    ] {
        let e = d.pseudonym(Method::Ff1(id), value).unwrap_err().to_string();
        assert!(!e.contains(value), "{e}");
    }
}

#[test]
fn key_file_round_trips_rotates_and_hides_secrets() {
    let mut k = keys();
    let old = k
        .domain("q", None)
        .unwrap()
        .pseudonym(Method::Hmac, "x")
        .unwrap();
    k.rotate("pk-new", [9; 32]);
    let text = k.format();
    let back = PseudonymKeys::parse("keys", &text).unwrap();
    assert_eq!(back, k);
    assert_eq!(back.active_id(), "pk-new");
    assert_ne!(
        back.domain("q", None)
            .unwrap()
            .pseudonym(Method::Hmac, "x")
            .unwrap(),
        old
    );
    assert_eq!(
        back.domain("q", Some("pk-test"))
            .unwrap()
            .pseudonym(Method::Hmac, "x")
            .unwrap(),
        old
    );
    assert!(!format!("{back:?}").contains("0909"));
    let e = PseudonymKeys::parse("keys", "active a\nkey a 12\n")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "keys:2: a key is 64 hex digits");
    assert!(back.domain("q", Some("pk-gone")).is_err());
}

const TABLE: &str = "ts,imsi,msisdn,cell,bytes\r\n\
2026-01-05T10:00:00Z,262011234567890,+4915112345678,\"A,1\",100\r\n\
2026-01-05T10:00:01Z,\"262011234567891\",+4915112345679,\"B \"\"x\"\"\",200\r\n\
2026-01-05T10:00:02Z,,+4915112345670,\"multi\nline\",300\r\n";

fn specs() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec {
            column: "imsi".into(),
            method: Method::Ff1(Identifier::Imsi),
        },
        ColumnSpec {
            column: "msisdn".into(),
            method: Method::Hmac,
        },
    ]
}

/// Runs the whole input through in chunks of `chunk` bytes, as a streaming caller would.
fn run(
    input: &str,
    chunk: usize,
    on_bad: OnBadRow,
) -> Result<(String, String, Vec<RowError>), RowError> {
    let bytes = input.as_bytes();
    let (mut t, header) = TablePseudonymiser::new(domain("q"), &specs(), bytes)
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut out = bytes[..header].to_vec();
    let (mut rejects, mut errors) = (Vec::new(), Vec::new());
    let mut pending: Vec<u8> = Vec::new();
    let mut pos = header;
    loop {
        let end = (pos + chunk).min(bytes.len());
        pending.extend_from_slice(&bytes[pos..end]);
        pos = end;
        let last = pos == bytes.len();
        let p = t.process(&pending, last, on_bad, &mut out, &mut rejects, &mut errors)?;
        pending.drain(..p.consumed);
        if last {
            assert!(pending.is_empty());
            break;
        }
    }
    Ok((
        String::from_utf8(out).unwrap_or_else(|e| unreachable!("{e}")),
        String::from_utf8(rejects).unwrap_or_else(|e| unreachable!("{e}")),
        errors,
    ))
}

#[test]
fn a_table_is_pseudonymised_in_place_whatever_the_chunks() {
    let (whole, rejects, errors) = run(TABLE, usize::MAX / 2, OnBadRow::Stop).unwrap();
    assert!(rejects.is_empty() && errors.is_empty());
    let d = domain("q");
    let imsi = d
        .pseudonym(Method::Ff1(Identifier::Imsi), "262011234567890")
        .unwrap();
    let msisdn = d.pseudonym(Method::Hmac, "+4915112345678").unwrap();
    let lines: Vec<&str> = whole.split("\r\n").collect();
    assert_eq!(lines[0], "ts,imsi,msisdn,cell,bytes");
    assert_eq!(
        lines[1],
        format!("2026-01-05T10:00:00Z,{imsi},{msisdn},\"A,1\",100")
    );
    // A quoted identifier is unquoted before it is pseudonymised; other fields stay as written.
    let imsi2 = d
        .pseudonym(Method::Ff1(Identifier::Imsi), "262011234567891")
        .unwrap();
    assert!(
        lines[2].starts_with(&format!("2026-01-05T10:00:01Z,{imsi2},")),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with(",\"B \"\"x\"\"\",200"));
    // An empty field stays empty; a quoted line break stays.
    assert!(lines[3].starts_with("2026-01-05T10:00:02Z,,"));
    assert!(lines[3].ends_with("\"multi\nline\",300"));
    for chunk in [1, 2, 3, 7, 64] {
        assert_eq!(
            run(TABLE, chunk, OnBadRow::Stop).unwrap().0,
            whole,
            "chunks of {chunk}"
        );
    }
}

#[test]
fn bad_rows_name_their_line_and_stop_the_run_or_go_to_the_rejects() {
    let bad = "ts,imsi,msisdn,cell,bytes\n\
1,262011234567890,+4915112345678,a,1\n\
2,262011234567890,+4915112345678,a\n\
3,12345,+4915112345678,a,1\n\
4,262011234567890,+4915112345678,a\"b,1\n\
5,262011234567890,+49151123\u{fffd}45678,a,1\n\
6,262011234567890,+4915112345678,a,1\n";
    let e = run(bad, 5, OnBadRow::Stop).unwrap_err();
    assert_eq!(e.line, 3);
    assert_eq!(e.to_string(), "line 3: 4 fields where the header has 5");
    let (out, rejects, errors) = run(bad, 5, OnBadRow::Reject).unwrap();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(errors[1].column.as_deref(), Some("imsi"));
    assert!(!errors[1].to_string().contains("12345"), "{}", errors[1]);
    assert_eq!(
        out.lines().count(),
        4,
        "the header and rows 1, 5 and 6:\n{out}"
    );
    assert_eq!(rejects.lines().count(), 3);
    assert!(rejects.starts_with("2,262011234567890"));
}

#[test]
fn bad_utf8_is_a_row_error_and_unknown_columns_stop_before_any_row() {
    let mut bytes =
        b"ts,imsi,msisdn\n1,262011234567890,+4915112345678\n2,262011234567890,+49".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"1\n");
    let specs = specs();
    let (mut t, header) = TablePseudonymiser::new(domain("q"), &specs, &bytes).unwrap();
    let (mut out, mut rejects, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let e = t
        .process(
            &bytes[header..],
            true,
            OnBadRow::Stop,
            &mut out,
            &mut rejects,
            &mut errors,
        )
        .unwrap_err();
    assert_eq!((e.line, e.what.as_str()), (3, "not UTF-8"));
    let missing = [ColumnSpec {
        column: "iccid".into(),
        method: Method::Ff1(Identifier::Iccid),
    }];
    assert!(matches!(
        TablePseudonymiser::new(domain("q"), &missing, b"ts,imsi\n"),
        Err(TableError::UnknownColumn(c, _)) if c == "iccid"
    ));
    assert!(matches!(
        TablePseudonymiser::new(domain("q"), &missing, b""),
        Err(TableError::NoHeader)
    ));
}
