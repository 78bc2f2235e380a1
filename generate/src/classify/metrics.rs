//! Classification metrics (accuracy, macro-F1, per-class precision/recall/F1, confusion
//! matrix) and a deterministic train/test split for sets that come without one.

use serde::Serialize;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Examples of this class in the gold labels.
    pub support: usize,
}

/// The scores of a set of predictions against gold labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 (classes with no gold example and no
    /// prediction are left out, as scikit-learn does with `labels` unset).
    pub macro_f1: f64,
    pub per_class: Vec<ClassScores>,
    /// `confusion[gold][predicted]`, indices into `labels`.
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
}

/// The index of each gold label among `labels`; a label the classifier does not know
/// gets `labels.len()`, which [`evaluate`] counts as a miss.
pub fn gold_indices(labels: &[String], gold: &[String]) -> Vec<usize> {
    let index: std::collections::HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    gold.iter()
        .map(|l| index.get(l.as_str()).copied().unwrap_or(labels.len()))
        .collect()
}

/// Score `predicted` against `gold` (label indices into `labels`, same length). A gold
/// index past `labels` (a label unknown to the classifier) can never be predicted: it
/// counts in the total as a miss, and in no class.
pub fn evaluate(labels: &[String], gold: &[usize], predicted: &[usize]) -> Evaluation {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&g, &p) in gold.iter().zip(predicted) {
        if g < k && p < k {
            confusion[g][p] += 1;
        }
    }
    let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
    let total = gold.len().min(predicted.len());
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut per_class = Vec::with_capacity(k);
    let mut f1_sum = 0.0;
    let mut present = 0usize;
    for c in 0..k {
        let tp = confusion[c][c];
        let support: usize = confusion[c].iter().sum();
        let predicted_c: usize = confusion.iter().map(|row| row[c]).sum();
        let precision = ratio(tp, predicted_c);
        let recall = ratio(tp, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if support > 0 || predicted_c > 0 {
            f1_sum += f1;
            present += 1;
        }
        per_class.push(ClassScores {
            label: labels[c].clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    Evaluation {
        accuracy: ratio(correct, total),
        macro_f1: if present == 0 {
            0.0
        } else {
            f1_sum / present as f64
        },
        per_class,
        confusion,
        labels: labels.to_vec(),
    }
}

/// SplitMix64: a tiny, well-mixed generator whose whole definition fits in a comment,
/// so the split can be reproduced outside docket (eval_classify_baseline.py does).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (modulo reduction: the bias is below 2^-40 for any n a data
    /// set has, and it keeps the reimplementation one line).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Indices `0..n` in a random order fixed by `seed` (Fisher-Yates from the last index
/// down, drawing `below(i + 1)`).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        idx.swap(i, j);
    }
    idx
}

/// Split `0..n` into (train, test) with `test_fraction` of the examples in test
/// (rounded down), after [`shuffled`] with `seed`; both parts sorted ascending.
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let idx = shuffled(n, seed);
    let n_test = ((n as f64) * test_fraction).floor() as usize;
    let mut test = idx[..n_test].to_vec();
    let mut train = idx[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

/// Fold (0..k) of each example for stratified k-fold cross-validation: each class's
/// examples, shuffled with `seed`, are dealt round-robin, so every fold has each class
/// in its proportion.
pub fn stratified_folds(y: &[usize], classes: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut fold = vec![0; y.len()];
    let order = shuffled(y.len(), seed);
    let mut next = vec![0usize; classes];
    for i in order {
        let c = y[i];
        fold[i] = next[c] % k;
        next[c] += 1;
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_computation() {
        let labels = vec!["a".to_string(), "b".into(), "c".into()];
        let gold = [0, 0, 0, 1, 1, 2];
        let pred = [0, 0, 1, 1, 2, 2];
        let e = evaluate(&labels, &gold, &pred);
        assert!((e.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(
            e.confusion,
            vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]
        );
        // a: P=1 R=2/3 F=0.8; b: P=1/2 R=1/2 F=1/2; c: P=1/2 R=1 F=2/3.
        let want = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((e.macro_f1 - want).abs() < 1e-12);
        assert_eq!(e.per_class[2].support, 1);
    }

    #[test]
    fn unknown_gold_labels_count_as_misses() {
        let labels = vec!["a".to_owned(), "b".to_owned()];
        let gold = gold_indices(&labels, &["a".into(), "zzz".into(), "b".into()]);
        assert_eq!(gold, [0, 2, 1]);
        let e = evaluate(&labels, &gold, &[0, 0, 1]);
        assert!((e.accuracy - 2.0 / 3.0).abs() < 1e-9, "{}", e.accuracy);
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let (tr, te) = train_test_split(10, 0.2, 42);
        assert_eq!(te.len(), 2);
        assert_eq!(tr.len(), 8);
        assert_eq!(train_test_split(10, 0.2, 42), (tr.clone(), te.clone()));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        // Pinned, so a change to the generator (which would desynchronise the Python
        // baseline's split) fails here.
        assert_eq!(SplitMix64(42).next_u64(), 0xBDD7_3226_2FEB_6E95);
    }

    #[test]
    fn folds_are_stratified() {
        let y: Vec<usize> = (0..30).map(|i| usize::from(i >= 20)).collect();
        let f = stratified_folds(&y, 2, 5, 1);
        for k in 0..5 {
            let zeros = (0..30).filter(|&i| f[i] == k && y[i] == 0).count();
            let ones = (0..30).filter(|&i| f[i] == k && y[i] == 1).count();
            assert_eq!((zeros, ones), (4, 2));
        }
    }
}
