"""The obvious Python approach to keyed pseudonyms, the baseline of issue 6: pandas reads the
CSV, hashlib's HMAC-SHA-256 pseudonymises two columns value by value (truncated to 128 bits,
like tutela's), pandas writes the CSV. The key is the domain key tutela derives from the
benchmark's key file, so both write the same pseudonyms (run.sh compares the files).

    python3 bench/pseudonymise/pandas_hmac.py IN.csv OUT.csv imsi msisdn
"""

import hashlib
import hmac
import sys

import pandas as pd

SECRET = bytes(range(32))
KEY = hmac.new(SECRET, b"tutela pseudonym v1\0hmac\0service_quality_analysis", hashlib.sha256).digest()


def pseudonym(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]


def main() -> None:
    src, dst, *columns = sys.argv[1:]
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    for column in columns:
        df[column] = df[column].map(pseudonym)
    df.to_csv(dst, index=False)


if __name__ == "__main__":
    main()
