"""The reference tools on the very folds tutela used: scikit-learn logistic regression on one-hot
categoricals and standardised numerics, and optbinning's BinningProcess + logistic regression.

    tutela risk train DATA.csv --target creditability --positive bad --cv 5 --folds-out folds.txt
    python3 bench/risk/reference.py DATA.csv folds.txt [--drop a,b]

Prints the mean AUC of each, with all features and without the dropped ones.
"""

import sys

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def run(data, folds, drop):
    y = (data["creditability"] == "bad").astype(int).to_numpy()
    x = data.drop(columns=["creditability"] + drop)
    categorical = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    numeric = [c for c in x.columns if c not in categorical]
    results = {}
    for name in ("scikit-learn", "optbinning"):
        aucs = []
        for k in sorted(set(folds)):
            train, test = folds != k, folds == k
            if name == "scikit-learn":
                model = Pipeline([
                    ("prep", ColumnTransformer([
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                        ("num", StandardScaler(), numeric),
                    ])),
                    ("lr", LogisticRegression(max_iter=2000)),
                ])
            else:
                model = Pipeline([
                    ("bin", BinningProcess(list(x.columns), categorical_variables=categorical)),
                    ("lr", LogisticRegression(max_iter=2000)),
                ])
            model.fit(x[train], y[train])
            aucs.append(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))
        results[name] = (np.mean(aucs), aucs)
    return results


def main():
    data = pd.read_csv(sys.argv[1])
    folds = np.loadtxt(sys.argv[2], dtype=int)
    drop = []
    if "--drop" in sys.argv:
        drop = sys.argv[sys.argv.index("--drop") + 1].split(",")
    for label, d in (("all features", []), ("without " + ", ".join(drop), drop)):
        if label != "all features" and not drop:
            continue
        for name, (mean, aucs) in run(data, folds, d).items():
            print(f"{name:<13} {label}: AUC {', '.join(f'{a:.4f}' for a in aucs)} — mean {mean:.4f}")


if __name__ == "__main__":
    main()
