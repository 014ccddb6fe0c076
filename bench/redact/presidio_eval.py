"""Presidio's pattern recognisers (presidio-analyzer, no NLP model) on the labelled corpus of
make_corpus.py: precision and recall per entity type, and throughput on one core.

    python presidio_eval.py CORPUS.jsonl

Presidio gets its predefined recognisers (e-mail, phone numbers by python-phonenumbers for DE,
GB, US, FR and others, IBAN, credit card, date), plus a pattern recogniser with the same
customer-number pattern tutela reads from the policy. It has no recogniser for IMEI, ICCID,
IMSI, MSISDN, German postal addresses, or (without an NLP model) person names; those score 0.
Its DATE_TIME findings count as dates of birth (it cannot tell them apart). A finding is right
when it has the gold label and overlaps the gold span; each gold span is matched once.
Prints one JSON object: per label tp, fp, fn; bytes; seconds.
"""

import json
import sys
import time

import tldextract

# The e-mail recogniser's domain check would fetch the public suffix list from the network;
# the snapshot tldextract ships is used instead (this machine has no such network).
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

LABELS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "PAYMENT_CARD",
    "DATE_TIME": "DATE_OF_BIRTH",
    "CUSTOMER_NUMBER": "CUSTOMER_NUMBER",
}


class NoModel(NlpEngine):
    """An NLP engine without a model: no tokens, no entities (pattern recognisers only)."""

    def load(self):
        pass

    def is_loaded(self):
        return True

    def process_text(self, text, language):
        return NlpArtifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self,
                            language=language)

    def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
        for t in texts:
            yield t, self.process_text(t, language)

    def is_stopword(self, word, language):
        return False

    def is_punct(self, word, language):
        return False

    def get_supported_entities(self):
        return []

    def get_supported_languages(self):
        return ["en"]


def engine():
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"])
    registry.add_recognizer(PatternRecognizer(
        supported_entity="CUSTOMER_NUMBER",
        patterns=[Pattern("customer number", r"\bKD-[0-9]{7}\b", 0.9)],
        supported_language="en"))
    return AnalyzerEngine(registry=registry, nlp_engine=NoModel(), supported_languages=["en"])


def score(found, gold, counts):
    used = set()
    for (s, e, label) in found:
        hit = None
        for i, (gs, ge, gl) in enumerate(gold):
            if i not in used and gl == label and s < ge and gs < e:
                hit = i
                break
        c = counts.setdefault(label, {"tp": 0, "fp": 0, "fn": 0})
        if hit is None:
            c["fp"] += 1
        else:
            used.add(hit)
            c["tp"] += 1
    for i, (_, _, gl) in enumerate(gold):
        if i not in used:
            counts.setdefault(gl, {"tp": 0, "fp": 0, "fn": 0})["fn"] += 1


def main():
    docs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    analyzer = engine()
    counts = {}
    total = 0
    started = time.perf_counter()
    results = []
    for d in docs:
        results.append(analyzer.analyze(text=d["text"], language="en"))
    seconds = time.perf_counter() - started
    for d, res in zip(docs, results):
        text = d["text"]
        total += len(text.encode())
        found = []
        for r in res:
            label = LABELS.get(r.entity_type)
            if label is None:
                continue
            # Presidio's offsets count characters; the gold counts bytes.
            s = len(text[:r.start].encode())
            e = len(text[:r.end].encode())
            found.append((s, e, label))
        score(found, [tuple(x) for x in d["spans"]], counts)
    print(json.dumps({"tool": "presidio-analyzer", "counts": counts, "bytes": total, "seconds": seconds}))


if __name__ == "__main__":
    main()
