//! tutela's recognisers on the committed sample of the labelled corpus (400 documents of
//! `bench/redact/make_corpus.py`, seed 7): no entity type falls below the precision and recall
//! it reaches; `cargo bench --bench redact` and `bench/redact/run.sh` measure the full corpus
//! and Presidio beside it.

use std::collections::BTreeMap;

use tutela_bench::redact_eval::{Counts, Span, score};
use tutela_core::redact::{Entity, Recognisers};

#[test]
fn every_entity_type_keeps_its_precision_and_recall_on_the_sample_corpus() {
    // covers: N24, N25
    let text = include_str!("../../../tests/redact/corpus-sample.jsonl");
    let policy = tutela_bench::reference().expect("policy");
    let pattern = policy.policy.redaction.and_then(|r| r.customer_number);
    let r = Recognisers::new(pattern.as_deref()).expect("recognisers");
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let t = v["text"].as_str().expect("text");
        let gold: Vec<Span> = v["spans"]
            .as_array()
            .expect("spans")
            .iter()
            .map(|s| {
                (
                    s[0].as_u64().expect("start") as usize,
                    s[1].as_u64().expect("end") as usize,
                    s[2].as_str().expect("label").to_owned(),
                )
            })
            .collect();
        let found: Vec<Span> = r
            .find(t)
            .into_iter()
            .map(|f| (f.start, f.end, f.entity.label().to_owned()))
            .collect();
        score(&found, &gold, &mut counts);
    }
    for e in Entity::ALL {
        let c = counts.get(e.label()).copied().unwrap_or_default();
        assert!(c.tp > 0, "{}: the sample has none", e.label());
        assert!(
            c.precision() >= 0.98 && c.recall() >= 0.95,
            "{}: precision {:.3}, recall {:.3} ({c:?})",
            e.label(),
            c.precision(),
            c.recall()
        );
    }
}
