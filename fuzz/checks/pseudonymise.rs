//! CSV files through the table pseudonymiser (issue 6), fed in pieces whose size the input
//! chooses; every identifier type, both bad-row modes. Nothing may panic, every byte must be
//! consumed at the end, and an FF1 pseudonym must reverse to its value.

use tutela_core::pseudonym::table::{ColumnSpec, OnBadRow, TablePseudonymiser};
use tutela_core::pseudonym::{Identifier, Method, PseudonymKeys};

/// The target's body, run on one input: a panic is a finding.
pub fn check(data: &[u8]) {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let domain = PseudonymKeys::new("pk-fuzz", [1; 32])
        .domain("fuzz", None)
        .unwrap_or_else(|_| unreachable!());
    let id = Identifier::ALL[usize::from(first) % Identifier::ALL.len()];
    let specs = [
        ColumnSpec {
            column: "a".into(),
            method: Method::Ff1(id),
        },
        ColumnSpec {
            column: "b".into(),
            method: Method::Hmac,
        },
    ];
    let mut input = b"a,b,c\n".to_vec();
    input.extend_from_slice(data);
    let Ok((mut table, header)) = TablePseudonymiser::new(domain.clone(), &specs, &input) else {
        return;
    };
    let on_bad = if first & 0x80 == 0 {
        OnBadRow::Reject
    } else {
        OnBadRow::Stop
    };
    let (mut out, mut rejects, mut errors, mut pending) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut pos = header;
    loop {
        let end = (pos + chunk).min(input.len());
        pending.extend_from_slice(&input[pos..end]);
        pos = end;
        let last = pos == input.len();
        match table.process(&pending, last, on_bad, &mut out, &mut rejects, &mut errors) {
            Ok(p) => {
                pending.drain(..p.consumed);
            }
            Err(_) => return,
        }
        if last {
            assert!(pending.is_empty(), "the last call consumes everything");
            break;
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(p) = domain.pseudonym(Method::Ff1(id), text)
    {
        assert_eq!(domain.reverse(id, &p).ok().as_deref(), Some(text));
    }
}
