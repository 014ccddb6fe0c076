"""Presidio's anonymizer with its `hash` operator (SHA-256) on the same two columns, the second
baseline of issue 6. Presidio anonymizes text spans; each identifier is one span covering the
whole field, so no recogniser runs (the fastest way to use it on structured data). Reads the
first MB megabytes of the file with the csv module and writes the result.

    python3 bench/pseudonymise/presidio_hash.py IN.csv OUT.csv MB imsi msisdn
"""

import csv
import sys

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult


def main() -> None:
    src, dst, mb, *columns = sys.argv[1:]
    limit = int(mb) << 20
    engine = AnonymizerEngine()
    operators = {"ID": OperatorConfig("hash", {"hash_type": "sha256"})}
    read = 0
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.reader(fin)
        writer = csv.writer(fout, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        index = [header.index(c) for c in columns]
        for row in reader:
            read += sum(len(f) for f in row) + len(row)
            for i in index:
                value = row[i]
                span = [RecognizerResult(entity_type="ID", start=0, end=len(value), score=1.0)]
                row[i] = engine.anonymize(text=value, analyzer_results=span, operators=operators).text
            writer.writerow(row)
            if read >= limit:
                break
    print(f"presidio: {read} bytes of input rows")


if __name__ == "__main__":
    main()
