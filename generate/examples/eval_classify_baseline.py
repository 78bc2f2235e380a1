"""scikit-learn TF-IDF + logistic regression on exactly the splits eval_classify.rs uses,
so docket's classifiers are compared like for like.

    python -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn
    /tmp/skvenv/bin/python generate/examples/eval_classify_baseline.py [DATA_DIR]

DATA_DIR defaults to ../shared/data/classify (relative to the workspace root). Sets
without a given split (SMS spam, TREC) are split 80/20 by the SplitMix64 shuffle of
docket_generate::classify::metrics (seed 42), reimplemented below.
"""
import csv
import os
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

MASK = (1 << 64) - 1
SEED = 42


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next_u64() % n


def train_test_split(n, test_fraction, seed):
    rng = SplitMix64(seed)
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    n_test = int(n * test_fraction)
    return sorted(idx[n_test:]), sorted(idx[:n_test])


def read(path, text_col, label_col):
    with open(path, newline="", encoding="utf-8") as f:
        if path.endswith(".tsv"):
            rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            rows = csv.DictReader(f)
        rows = list(rows)
    return [r[text_col] for r in rows], [r[label_col] for r in rows]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "classify")
    sets = []
    for name, file, text, label in [
        ("sms_spam", "sms_spam.tsv", "text", "label"),
        ("trec_coarse", "trec_qc_train5500.tsv", "question", "coarse_label"),
    ]:
        x, y = read(os.path.join(data, file), text, label)
        tr, te = train_test_split(len(x), 0.2, SEED)
        sets.append((name, [x[i] for i in tr], [y[i] for i in tr], [x[i] for i in te], [y[i] for i in te]))
    xtr, ytr = read(os.path.join(data, "amazon_fine_foods_training.csv"), "review", "score")
    xte, yte = read(os.path.join(data, "amazon_fine_foods_testing.csv"), "review", "score")
    sets.append(("amazon", xtr, ytr, xte, yte))

    print(f"{'set':<12} {'train':>6} {'test':>6} {'model':<26} {'acc':>6} {'macroF1':>8}")
    for name, xtr, ytr, xte, yte in sets:
        for c in (1.0, 10.0):
            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            model = LogisticRegression(C=c, max_iter=2000)
            model.fit(vec.fit_transform(xtr), ytr)
            pred = model.predict(vec.transform(xte))
            print(
                f"{name:<12} {len(xtr):>6} {len(xte):>6} {'sklearn tfidf+LR C=' + str(c):<26} "
                f"{accuracy_score(yte, pred):>6.3f} {f1_score(yte, pred, average='macro'):>8.3f}"
            )


if __name__ == "__main__":
    main()
