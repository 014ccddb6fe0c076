//! Scoring PII recognisers against a labelled corpus, the same way `bench/redact/presidio_eval.py`
//! scores Presidio: a finding is right when it has the gold label and overlaps the gold span,
//! and each gold span is matched at most once.

use std::collections::BTreeMap;

/// True positives, false positives and false negatives of one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }

    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// A labelled span: byte offsets and a label.
pub type Span = (usize, usize, String);

/// Adds the findings of one document to `counts`.
pub fn score(found: &[Span], gold: &[Span], counts: &mut BTreeMap<String, Counts>) {
    let mut used = vec![false; gold.len()];
    for (s, e, label) in found {
        let hit = gold
            .iter()
            .enumerate()
            .position(|(i, (gs, ge, gl))| !used[i] && gl == label && s < ge && gs < e);
        let c = counts.entry(label.clone()).or_default();
        match hit {
            Some(i) => {
                used[i] = true;
                c.tp += 1;
            }
            None => c.fp += 1,
        }
    }
    for (i, (_, _, gl)) in gold.iter().enumerate() {
        if !used[i] {
            counts.entry(gl.clone()).or_default().fn_ += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_with_the_same_label_counts_once() {
        let gold = vec![(0, 10, "EMAIL".to_owned()), (20, 30, "PHONE".to_owned())];
        let found = vec![
            (2, 12, "EMAIL".to_owned()),
            (3, 9, "EMAIL".to_owned()),
            (20, 30, "IBAN".to_owned()),
        ];
        let mut c = BTreeMap::new();
        score(&found, &gold, &mut c);
        assert_eq!(
            c["EMAIL"],
            Counts {
                tp: 1,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["IBAN"],
            Counts {
                tp: 0,
                fp: 1,
                fn_: 0
            }
        );
        assert_eq!(
            c["PHONE"],
            Counts {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
    }
}
