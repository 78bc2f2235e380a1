//! Document classification: zero-shot from label descriptions, or supervised from
//! labelled examples over TF-IDF and sentence-embedding features.
//!
//! One type, [`Classifier`], serves both: it takes a batch of texts (and, if the caller
//! already has them, their embeddings, e.g. from the index) and returns per text the
//! label, its confidence and the runner-up ([`Prediction`]), or every label above a
//! threshold in multi-label mode ([`Decision`]). Batches are independent, so a stream
//! is classified batch by batch with the same result as all at once.
//!
//! Supervised training fits two multinomial logistic regressions, one on TF-IDF word
//! uni- and bigrams and one on embeddings, and mixes their probabilities with a weight.
//! Which features help depends on the data (on short, keyword-driven texts TF-IDF alone
//! often wins; on paraphrase-heavy ones embeddings do), so the regularisation of each
//! and the weight, including the pure TF-IDF and pure embedding ends, are chosen by
//! stratified k-fold cross-validation on the training examples ([`TrainReport`] says
//! what was chosen and why).
//!
//! An LLM can label texts too ([`llm::LlmClassifier`]): nothing is trained, the model
//! picks one of the labels by constrained scoring, calibrated against its own bias.

mod data;
pub mod llm;
pub mod logistic;
pub mod metrics;
pub mod tfidf;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use docket_index::embed::Embedder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use data::{Examples, LabelSpec, load_labels, parse_labels, read_examples};
pub use llm::LlmClassifier;
pub use logistic::{LrModel, LrParams, Rows, SparseVec};
pub use metrics::{ClassScores, Evaluation, evaluate, gold_indices, train_test_split};
pub use tfidf::{Tfidf, TfidfConfig};

use crate::error::{Error, Result};

/// Version of the saved classifier format this docket writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "docket-classifier";

/// A label with its score (a probability for trained classifiers, a calibrated
/// similarity-softmax for zero-shot ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

/// The classification of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The best label.
    pub label: String,
    /// Its score, in 0..=1; the scores of all labels sum to 1.
    pub confidence: f32,
    /// The second-best label and its score: a small gap to `confidence` flags a text
    /// worth a human look.
    pub runner_up: Option<LabelScore>,
    /// Single-label mode: the best label alone. Multi-label mode: every label whose
    /// score reaches the threshold, best first (possibly none).
    pub labels: Vec<LabelScore>,
}

/// How scores become labels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Decision {
    /// One label per text, the best.
    #[default]
    Single,
    /// Every label whose score is at least `threshold`. Scores still sum to 1 over the
    /// labels, so a text that fits two labels equally scores about 0.5 on each: a
    /// threshold near `1 / (labels + 1)` lets several through.
    MultiLabel { threshold: f32 },
}

/// Settings of zero-shot classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroShotConfig {
    /// How a label's description becomes the text that is embedded; `{}` is replaced by
    /// the description (or the name). A sentence reads more like the documents than a
    /// bare word, which puts the label vectors in the region of sentence space the
    /// documents occupy.
    #[serde(default = "ZeroShotConfig::default_template")]
    pub template: String,
    /// Softmax temperature over cosine similarities. Cosines of one document to
    /// different labels differ by a few hundredths, so a small temperature is needed
    /// for the scores to separate; it does not change which label wins.
    #[serde(default = "ZeroShotConfig::default_temperature")]
    pub temperature: f32,
    /// Subtract from each label's similarity its similarity to a content-free text
    /// ("contextual calibration"): some label prompts are closer to every text than
    /// others, which biases predictions towards them. Off by default: measured with
    /// all-MiniLM-L6-v2 it helped on SMS spam (accuracy 0.69 → 0.74) and wrecked
    /// review sentiment (0.72 → 0.48), so one content-free text is not a reliable
    /// estimate of the bias.
    #[serde(default = "ZeroShotConfig::default_calibrate")]
    pub calibrate: bool,
}

impl ZeroShotConfig {
    pub fn default_template() -> String {
        "This text is about {}.".into()
    }
    pub fn default_temperature() -> f32 {
        0.05
    }
    pub fn default_calibrate() -> bool {
        false
    }
}

impl Default for ZeroShotConfig {
    fn default() -> Self {
        ZeroShotConfig {
            template: Self::default_template(),
            temperature: Self::default_temperature(),
            calibrate: Self::default_calibrate(),
        }
    }
}

/// The content-free text whose similarities calibrate zero-shot scores.
const NEUTRAL_TEXT: &str = "N/A";

/// Which features a supervised classifier uses.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum Features {
    /// Choose TF-IDF, embeddings or a mix by cross-validation (TF-IDF alone if no
    /// embedder is given).
    #[default]
    Auto,
    /// TF-IDF only.
    Tfidf,
    /// Embeddings only.
    Embedding,
    /// Both, TF-IDF probabilities weighted `w`, embedding ones `1 - w`.
    Mix(f32),
}

/// Settings of supervised training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    #[serde(default)]
    pub features: Features,
    #[serde(default)]
    pub tfidf: TfidfConfig,
    /// Regularisation strengths tried for each model (scikit-learn's `C`); the best by
    /// cross-validation is kept. A grid, because the right strength depends on the
    /// number of examples and features, which vary by orders of magnitude.
    #[serde(default = "TrainConfig::default_c_grid")]
    pub c_grid: Vec<f64>,
    /// Cross-validation folds (fewer if the rarest label has fewer examples; with
    /// fewer than two examples of some label no validation is possible and the first
    /// `C` of the grid is used with an even mix).
    #[serde(default = "TrainConfig::default_folds")]
    pub folds: usize,
    /// Fusion weights tried between 0 (embeddings only) and 1 (TF-IDF only): this many
    /// evenly spaced steps, ends included.
    #[serde(default = "TrainConfig::default_weight_steps")]
    pub weight_steps: usize,
    /// Seed of the fold assignment.
    #[serde(default = "TrainConfig::default_seed")]
    pub seed: u64,
}

impl TrainConfig {
    pub fn default_c_grid() -> Vec<f64> {
        vec![1.0, 10.0, 100.0]
    }
    pub fn default_folds() -> usize {
        5
    }
    pub fn default_weight_steps() -> usize {
        11
    }
    pub fn default_seed() -> u64 {
        42
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: Features::default(),
            tfidf: TfidfConfig::default(),
            c_grid: Self::default_c_grid(),
            folds: Self::default_folds(),
            weight_steps: Self::default_weight_steps(),
            seed: Self::default_seed(),
        }
    }
}

/// What supervised training chose and the cross-validation figures behind the choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub examples: usize,
    /// Folds used (0: too few examples to validate).
    pub folds: usize,
    /// `C` of the TF-IDF model and its cross-validated accuracy, if it is used.
    pub tfidf_c: Option<(f64, f64)>,
    /// `C` of the embedding model and its cross-validated accuracy, if it is used.
    pub embedding_c: Option<(f64, f64)>,
    /// Cross-validated accuracy of each fusion weight tried (weight of TF-IDF).
    pub weights: Vec<(f32, f64)>,
    /// The weight kept (1: TF-IDF only, 0: embeddings only).
    pub tfidf_weight: f32,
    /// Its cross-validated accuracy.
    pub cv_accuracy: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TfidfPart {
    vectorizer: Tfidf,
    model: LrModel,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Supervised {
    tfidf: Option<TfidfPart>,
    embedding: Option<LrModel>,
    /// Weight of the TF-IDF probabilities when both models exist.
    tfidf_weight: f32,
}

#[derive(Debug, Clone)]
struct ZeroShot {
    specs: Vec<LabelSpec>,
    config: ZeroShotConfig,
    /// Unit vectors of the label prompts.
    vectors: Vec<Vec<f32>>,
    /// Similarity of each label prompt to the neutral text (zero without calibration).
    bias: Vec<f32>,
}

#[derive(Debug, Clone)]
enum Kind {
    ZeroShot(ZeroShot),
    Supervised(Supervised),
}

/// A zero-shot or trained classifier; see the [module docs](self).
pub struct Classifier {
    labels: Vec<String>,
    kind: Kind,
    embedder: Option<Arc<dyn Embedder>>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("labels", &self.labels)
            .field("kind", &self.kind)
            .field("embedder", &self.embedder.as_ref().map(|e| e.model_id()))
            .finish()
    }
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

impl Classifier {
    /// A zero-shot classifier: each text gets the label whose prompt (the template
    /// filled with the label's description) is most similar to it.
    pub fn zero_shot(
        labels: &[LabelSpec],
        config: &ZeroShotConfig,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self> {
        data::check_labels(labels)?;
        if config.temperature.is_nan() || config.temperature <= 0.0 {
            return Err(Error::Setting {
                name: "temperature",
                reason: format!("{} is not positive", config.temperature),
            });
        }
        let prompts: Vec<String> = labels
            .iter()
            .map(|l| config.template.replace("{}", l.text()))
            .collect();
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let vectors: Vec<Vec<f32>> = embedder.embed(&refs)?.into_iter().map(normalized).collect();
        let bias = if config.calibrate {
            let neutral = normalized(embedder.embed(&[NEUTRAL_TEXT])?.remove(0));
            vectors.iter().map(|v| dot(v, &neutral)).collect()
        } else {
            vec![0.0; vectors.len()]
        };
        Ok(Classifier {
            labels: labels.iter().map(|l| l.name.clone()).collect(),
            kind: Kind::ZeroShot(ZeroShot {
                specs: labels.to_vec(),
                config: config.clone(),
                vectors,
                bias,
            }),
            embedder: Some(embedder),
        })
    }

    /// Train on labelled examples. Embeddings are computed with `embedder` when the
    /// chosen features need them; `None` trains TF-IDF only.
    pub fn train(
        examples: &Examples,
        config: &TrainConfig,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<(Self, TrainReport)> {
        let wants_embeddings = !matches!(config.features, Features::Tfidf);
        let embeddings = match (&embedder, wants_embeddings) {
            (Some(e), true) => {
                let refs: Vec<&str> = examples.texts.iter().map(String::as_str).collect();
                Some(e.embed(&refs)?)
            }
            _ => None,
        };
        Self::train_with_embeddings(examples, embeddings.as_deref(), config, embedder)
    }

    /// As [`train`](Self::train), with the examples' embeddings already computed by
    /// `embedder` (the classifier keeps the embedder for texts classified later).
    pub fn train_with_embeddings(
        examples: &Examples,
        embeddings: Option<&[Vec<f32>]>,
        config: &TrainConfig,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<(Self, TrainReport)> {
        let (labels, y) = index_labels(&examples.labels)?;
        if let Some(e) = embeddings {
            check_embeddings(examples.len(), e)?;
        }
        let embeddings = match config.features {
            Features::Tfidf => None,
            _ => embeddings,
        };
        if embeddings.is_none() && matches!(config.features, Features::Embedding | Features::Mix(_))
        {
            return Err(Error::Training {
                reason: "these features need embeddings; give an embedder".into(),
            });
        }
        if config.c_grid.is_empty() || config.c_grid.iter().any(|c| c.is_nan() || *c <= 0.0) {
            return Err(Error::Setting {
                name: "c_grid",
                reason: format!("{:?}: needs at least one positive value", config.c_grid),
            });
        }
        let (supervised, report) = supervised::fit(examples, &y, labels.len(), embeddings, config);
        let embedder = if supervised.embedding.is_some() {
            embedder
        } else {
            None
        };
        Ok((
            Classifier {
                labels,
                kind: Kind::Supervised(supervised),
                embedder,
            },
            report,
        ))
    }

    /// The labels, in the order of probability vectors.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Whether classifying needs embeddings of the texts.
    pub fn needs_embeddings(&self) -> bool {
        match &self.kind {
            Kind::ZeroShot(_) => true,
            Kind::Supervised(s) => s.embedding.is_some(),
        }
    }

    /// The id of the embedding model the classifier works with, if it uses embeddings.
    pub fn embedder_id(&self) -> Option<&str> {
        self.embedder
            .as_ref()
            .filter(|_| self.needs_embeddings())
            .map(|e| e.model_id())
    }

    /// For supervised classifiers, the weight of TF-IDF in the mix (1: TF-IDF only,
    /// 0: embeddings only); `None` for zero-shot ones.
    pub fn tfidf_weight(&self) -> Option<f32> {
        match &self.kind {
            Kind::ZeroShot(_) => None,
            Kind::Supervised(s) => Some(match (&s.tfidf, &s.embedding) {
                (Some(_), Some(_)) => s.tfidf_weight,
                (Some(_), None) => 1.0,
                _ => 0.0,
            }),
        }
    }

    /// Scores of every label for each text (rows sum to 1, columns in
    /// [`labels`](Self::labels) order). `embeddings`, if given, must be the texts'
    /// vectors from the classifier's embedder; otherwise they are computed if needed.
    pub fn scores(&self, texts: &[&str], embeddings: Option<&[Vec<f32>]>) -> Result<Vec<Vec<f32>>> {
        if let Some(e) = embeddings {
            check_embeddings(texts.len(), e)?;
        }
        let owned;
        let embeddings = match (embeddings, self.needs_embeddings()) {
            (_, false) => None,
            (Some(e), true) => Some(e),
            (None, true) => {
                let embedder = self.embedder.as_ref().ok_or_else(|| Error::Input {
                    reason: "this classifier needs embeddings and has no embedder".into(),
                })?;
                owned = embedder.embed(texts)?;
                Some(owned.as_slice())
            }
        };
        let expected = match &self.kind {
            Kind::ZeroShot(z) => z.vectors.first().map(Vec::len),
            Kind::Supervised(s) => s.embedding.as_ref().map(|m| m.dim),
        };
        if let (Some(want), Some(got)) = (expected, embeddings.and_then(|e| e.first()))
            && got.len() != want
        {
            return Err(Error::Input {
                reason: format!(
                    "embeddings have {} dimensions, the classifier expects {want}",
                    got.len()
                ),
            });
        }
        match &self.kind {
            Kind::ZeroShot(z) => Ok(z.scores(embeddings.unwrap_or_default())),
            Kind::Supervised(s) => Ok(s.scores(texts, embeddings)),
        }
    }

    /// Classify a batch of texts (see [`scores`](Self::scores) for `embeddings`).
    pub fn predict(
        &self,
        texts: &[&str],
        embeddings: Option<&[Vec<f32>]>,
        decision: Decision,
    ) -> Result<Vec<Prediction>> {
        Ok(self
            .scores(texts, embeddings)?
            .iter()
            .map(|p| self.decide(p, decision))
            .collect())
    }

    /// Turn one row of scores into a prediction.
    pub fn decide(&self, scores: &[f32], decision: Decision) -> Prediction {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let ls = |i: usize| LabelScore {
            label: self.labels[i].clone(),
            score: scores[i],
        };
        let labels = match decision {
            Decision::Single => vec![ls(order[0])],
            Decision::MultiLabel { threshold } => order
                .iter()
                .take_while(|&&i| scores[i] >= threshold)
                .map(|&i| ls(i))
                .collect(),
        };
        Prediction {
            label: self.labels[order[0]].clone(),
            confidence: scores[order[0]],
            runner_up: order.get(1).map(|&i| ls(i)),
            labels,
        }
    }

    /// Index of the best label of each text, for [`evaluate`].
    pub fn predict_indices(
        &self,
        texts: &[&str],
        embeddings: Option<&[Vec<f32>]>,
    ) -> Result<Vec<usize>> {
        Ok(self
            .scores(texts, embeddings)?
            .iter()
            .map(|p| argmax(p))
            .collect())
    }

    /// Write the classifier as JSON to `path`: its labels, model, the embedder's id and
    /// the format version, so that [`load`](Self::load) can refuse what it cannot use.
    pub fn save(&self, path: &Path) -> Result<()> {
        let saved = SavedClassifier {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            labels: self.labels.clone(),
            embedder: self.embedder_id().map(str::to_owned),
            model: match &self.kind {
                Kind::ZeroShot(z) => SavedModel::ZeroShot {
                    labels: z.specs.clone(),
                    config: z.config.clone(),
                },
                Kind::Supervised(s) => SavedModel::Supervised(s.clone()),
            },
        };
        let json = serde_json::to_vec(&saved).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        // Write then rename, so a crash never leaves a truncated model behind.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Read a classifier written by [`save`](Self::save). A classifier that uses
    /// embeddings must be given an embedder with the model id it was trained with.
    pub fn load(path: &Path, embedder: Option<Arc<dyn Embedder>>) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let head: SavedHead = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if head.format != FORMAT_NAME {
            return Err(corrupt(format!(
                "format {:?}, not {FORMAT_NAME:?}",
                head.format
            )));
        }
        if head.version != FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path: path.to_path_buf(),
                found: head.version,
                supported: FORMAT_VERSION,
            });
        }
        let saved: SavedClassifier =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let embedder = match (&saved.embedder, embedder) {
            (None, _) => None,
            (Some(trained), None) => {
                return Err(Error::EmbedderMissing {
                    path: path.to_path_buf(),
                    trained: trained.clone(),
                });
            }
            (Some(trained), Some(e)) if e.model_id() != trained => {
                return Err(Error::EmbedderMismatch {
                    path: path.to_path_buf(),
                    trained: trained.clone(),
                    given: e.model_id().to_owned(),
                });
            }
            (Some(_), Some(e)) => Some(e),
        };
        match saved.model {
            SavedModel::ZeroShot { labels, config } => {
                let embedder =
                    embedder.ok_or_else(|| corrupt("zero-shot without embedder".into()))?;
                Self::zero_shot(&labels, &config, embedder)
            }
            SavedModel::Supervised(s) => {
                let k = saved.labels.len();
                let shapes_ok = s.tfidf.as_ref().is_none_or(|t| {
                    t.model.classes == k
                        && t.model.dim == t.vectorizer.dim()
                        && t.model.weights.len() == k * (t.model.dim + 1)
                }) && s
                    .embedding
                    .as_ref()
                    .is_none_or(|m| m.classes == k && m.weights.len() == k * (m.dim + 1))
                    && (s.tfidf.is_some() || s.embedding.is_some());
                if !shapes_ok {
                    return Err(corrupt(
                        "weights do not match the labels or features".into(),
                    ));
                }
                if let (Some(m), Some(e)) = (&s.embedding, &embedder)
                    && m.dim != e.dim()
                {
                    return Err(corrupt(format!(
                        "embedding weights have {} dimensions, the embedder {}",
                        m.dim,
                        e.dim()
                    )));
                }
                Ok(Classifier {
                    labels: saved.labels,
                    kind: Kind::Supervised(s),
                    embedder,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct SavedHead {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct SavedClassifier {
    format: String,
    version: u32,
    labels: Vec<String>,
    /// Model id of the embedder, if the classifier uses embeddings.
    embedder: Option<String>,
    model: SavedModel,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SavedModel {
    ZeroShot {
        labels: Vec<LabelSpec>,
        config: ZeroShotConfig,
    },
    Supervised(Supervised),
}

/// Distinct labels in first-seen order, and each example's label index.
fn index_labels(labels: &[String]) -> Result<(Vec<String>, Vec<usize>)> {
    let mut names: Vec<String> = Vec::new();
    let mut y = Vec::with_capacity(labels.len());
    for l in labels {
        let i = match names.iter().position(|n| n == l) {
            Some(i) => i,
            None => {
                names.push(l.clone());
                names.len() - 1
            }
        };
        y.push(i);
    }
    if names.len() < 2 {
        return Err(Error::Training {
            reason: format!(
                "{} example(s) with {} distinct label(s); training needs at least two labels",
                labels.len(),
                names.len()
            ),
        });
    }
    Ok((names, y))
}

fn check_embeddings(n: usize, e: &[Vec<f32>]) -> Result<()> {
    if e.len() != n {
        return Err(Error::Input {
            reason: format!("{n} texts but {} embeddings", e.len()),
        });
    }
    if let Some(first) = e.first()
        && e.iter().any(|v| v.len() != first.len())
    {
        return Err(Error::Input {
            reason: "embeddings of different dimensions".into(),
        });
    }
    Ok(())
}

fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    z.iter_mut().for_each(|v| *v /= sum);
}

impl ZeroShot {
    fn scores(&self, embeddings: &[Vec<f32>]) -> Vec<Vec<f32>> {
        embeddings
            .iter()
            .map(|e| {
                let e = normalized(e.clone());
                let mut z: Vec<f32> = self
                    .vectors
                    .iter()
                    .zip(&self.bias)
                    .map(|(v, b)| (dot(v, &e) - b) / self.config.temperature)
                    .collect();
                softmax(&mut z);
                z
            })
            .collect()
    }
}

mod supervised {
    use super::*;

    impl Supervised {
        pub(super) fn scores(
            &self,
            texts: &[&str],
            embeddings: Option<&[Vec<f32>]>,
        ) -> Vec<Vec<f32>> {
            let pt = self.tfidf.as_ref().map(|t| {
                let rows: Vec<SparseVec> =
                    texts.iter().map(|x| t.vectorizer.transform(x)).collect();
                t.model.predict(Rows::Sparse(&rows))
            });
            let pe = match (&self.embedding, embeddings) {
                (Some(m), Some(e)) => Some(m.predict(Rows::Dense(e))),
                _ => None,
            };
            match (pt, pe) {
                (Some(t), Some(e)) => mix(&t, &e, self.tfidf_weight),
                (Some(t), None) => t,
                (None, Some(e)) => e,
                (None, None) => Vec::new(),
            }
        }
    }

    pub(super) fn mix(t: &[Vec<f32>], e: &[Vec<f32>], w: f32) -> Vec<Vec<f32>> {
        t.iter()
            .zip(e)
            .map(|(a, b)| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| w * x + (1.0 - w) * y)
                    .collect()
            })
            .collect()
    }

    fn accuracy(p: &[Vec<f32>], y: &[usize]) -> f64 {
        let ok = p.iter().zip(y).filter(|(p, y)| argmax(p) == **y).count();
        ok as f64 / y.len().max(1) as f64
    }

    fn log_loss(p: &[Vec<f32>], y: &[usize]) -> f64 {
        let s: f64 = p
            .iter()
            .zip(y)
            .map(|(p, &y)| -f64::from(p[y].max(1e-7)).ln())
            .sum();
        s / y.len().max(1) as f64
    }

    /// Out-of-fold probabilities of a model trained with `c` on the other folds.
    fn out_of_fold<F>(
        fit_predict: &F,
        n: usize,
        folds: &[usize],
        k: usize,
        classes: usize,
    ) -> Vec<Vec<f32>>
    where
        F: Fn(&[usize], &[usize]) -> Vec<Vec<f32>> + Sync,
    {
        let parts: Vec<(Vec<usize>, Vec<Vec<f32>>)> = (0..k)
            .into_par_iter()
            .map(|f| {
                let train: Vec<usize> = (0..n).filter(|&i| folds[i] != f).collect();
                let test: Vec<usize> = (0..n).filter(|&i| folds[i] == f).collect();
                let p = fit_predict(&train, &test);
                (test, p)
            })
            .collect();
        let mut out = vec![vec![0.0; classes]; n];
        for (test, p) in parts {
            for (i, row) in test.into_iter().zip(p) {
                out[i] = row;
            }
        }
        out
    }

    /// The `C` of the grid with the best out-of-fold accuracy (ties: lower log-loss),
    /// with that accuracy and its out-of-fold probabilities.
    fn select_c<F>(
        grid: &[f64],
        y: &[usize],
        folds: &[usize],
        k: usize,
        classes: usize,
        fit_predict: F,
    ) -> (f64, f64, Vec<Vec<f32>>)
    where
        F: Fn(f64, &[usize], &[usize]) -> Vec<Vec<f32>> + Sync,
    {
        let mut best: Option<(f64, f64, f64, Vec<Vec<f32>>)> = None;
        for &c in grid {
            let p = out_of_fold(
                &|tr: &[usize], te: &[usize]| fit_predict(c, tr, te),
                y.len(),
                folds,
                k,
                classes,
            );
            let (acc, loss) = (accuracy(&p, y), log_loss(&p, y));
            let better = best
                .as_ref()
                .is_none_or(|(_, a, l, _)| acc > *a || (acc == *a && loss < *l));
            if better {
                best = Some((c, acc, loss, p));
            }
        }
        let (c, acc, _, p) = best.unwrap_or_default();
        (c, acc, p)
    }

    fn lr(c: f64) -> LrParams {
        LrParams {
            c,
            ..LrParams::default()
        }
    }

    pub(super) fn fit(
        examples: &Examples,
        y: &[usize],
        classes: usize,
        embeddings: Option<&[Vec<f32>]>,
        config: &TrainConfig,
    ) -> (Supervised, TrainReport) {
        let n = y.len();
        let texts: Vec<&str> = examples.texts.iter().map(String::as_str).collect();
        let use_tfidf = !matches!(config.features, Features::Embedding);
        let use_emb = embeddings.is_some() && !matches!(config.features, Features::Tfidf);
        let mut counts = vec![0usize; classes];
        y.iter().for_each(|&c| counts[c] += 1);
        let rarest = counts.iter().copied().min().unwrap_or(0);
        let k = config.folds.min(rarest);
        let validate = k >= 2;
        let folds = metrics::stratified_folds(y, classes, k.max(1), config.seed);
        let tfidf_cfg = &config.tfidf;

        let fit_tfidf = |c: f64, tr: &[usize], te: &[usize]| {
            let tr_texts: Vec<&str> = tr.iter().map(|&i| texts[i]).collect();
            let v = Tfidf::fit(&tr_texts, tfidf_cfg.clone());
            let rows: Vec<SparseVec> = tr_texts.iter().map(|t| v.transform(t)).collect();
            let ys: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
            let m = logistic::train(Rows::Sparse(&rows), &ys, classes, v.dim(), lr(c));
            let test: Vec<SparseVec> = te.iter().map(|&i| v.transform(texts[i])).collect();
            (m.predict(Rows::Sparse(&test)), v, m)
        };
        let fit_emb = |c: f64, tr: &[usize], te: &[usize]| {
            let e = embeddings.unwrap_or_default();
            let rows: Vec<Vec<f32>> = tr.iter().map(|&i| e[i].clone()).collect();
            let ys: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
            let dim = e.first().map_or(0, Vec::len);
            let m = logistic::train(Rows::Dense(&rows), &ys, classes, dim, lr(c));
            let test: Vec<Vec<f32>> = te.iter().map(|&i| e[i].clone()).collect();
            (m.predict(Rows::Dense(&test)), m)
        };

        let mut report = TrainReport {
            examples: n,
            folds: if validate { k } else { 0 },
            tfidf_c: None,
            embedding_c: None,
            weights: Vec::new(),
            tfidf_weight: 1.0,
            cv_accuracy: None,
        };
        let default_c = config.c_grid[0];
        let (mut c_t, mut c_e) = (default_c, default_c);
        let (mut oof_t, mut oof_e) = (None, None);
        if validate {
            if use_tfidf {
                let (c, acc, p) = select_c(&config.c_grid, y, &folds, k, classes, |c, tr, te| {
                    fit_tfidf(c, tr, te).0
                });
                c_t = c;
                report.tfidf_c = Some((c, acc));
                oof_t = Some(p);
            }
            if use_emb {
                let (c, acc, p) = select_c(&config.c_grid, y, &folds, k, classes, |c, tr, te| {
                    fit_emb(c, tr, te).0
                });
                c_e = c;
                report.embedding_c = Some((c, acc));
                oof_e = Some(p);
            }
        }
        // The fusion weight: fixed, or the best of the grid on out-of-fold probabilities.
        let weight = match (config.features, &oof_t, &oof_e) {
            (Features::Mix(w), _, _) => w.clamp(0.0, 1.0),
            (Features::Tfidf, _, _) => 1.0,
            (Features::Embedding, _, _) => 0.0,
            (Features::Auto, Some(pt), Some(pe)) => {
                let steps = config.weight_steps.max(2);
                let mut best = (1.0f32, f64::MIN, f64::MAX);
                for s in 0..steps {
                    let w = s as f32 / (steps - 1) as f32;
                    let p = mix(pt, pe, w);
                    let (acc, loss) = (accuracy(&p, y), log_loss(&p, y));
                    report.weights.push((w, acc));
                    if acc > best.1 || (acc == best.1 && loss < best.2) {
                        best = (w, acc, loss);
                    }
                }
                best.0
            }
            (Features::Auto, Some(_), None) => 1.0,
            (Features::Auto, None, _) if use_emb && !validate => 0.5,
            (Features::Auto, None, _) => {
                if use_emb && !use_tfidf {
                    0.0
                } else {
                    1.0
                }
            }
        };
        report.tfidf_weight = weight;
        report.cv_accuracy = match (&oof_t, &oof_e) {
            (Some(pt), Some(pe)) => Some(accuracy(&mix(pt, pe, weight), y)),
            (Some(pt), None) if weight >= 1.0 => Some(accuracy(pt, y)),
            (None, Some(pe)) if weight <= 0.0 => Some(accuracy(pe, y)),
            _ => None,
        };
        // Refit the models the weight gives a say on all examples.
        let all: Vec<usize> = (0..n).collect();
        let tfidf = (use_tfidf && weight > 0.0).then(|| {
            let (_, vectorizer, model) = fit_tfidf(c_t, &all, &[]);
            TfidfPart { vectorizer, model }
        });
        let embedding = (use_emb && weight < 1.0).then(|| fit_emb(c_e, &all, &[]).1);
        (
            Supervised {
                tfidf,
                embedding,
                tfidf_weight: weight,
            },
            report,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Examples {
        let pos = [
            "great tasty snack",
            "love this great tea",
            "delicious and great",
            "tasty love it",
        ];
        let neg = [
            "awful stale taste",
            "terrible awful smell",
            "stale and terrible",
            "awful never again",
        ];
        let mut ex = Examples::default();
        for i in 0..4 {
            for (t, l) in [(pos[i], "pos"), (neg[i], "neg")] {
                ex.texts.push(t.into());
                ex.labels.push(l.into());
            }
        }
        ex
    }

    #[test]
    fn tfidf_classifier_learns_obvious_words_and_round_trips() {
        let ex = toy();
        let (clf, report) = Classifier::train(&ex, &TrainConfig::default(), None).unwrap();
        assert_eq!(report.folds, 4);
        assert_eq!(clf.tfidf_weight(), Some(1.0));
        let p = clf
            .predict(
                &["a great tasty tea", "stale awful thing"],
                None,
                Decision::Single,
            )
            .unwrap();
        assert_eq!(p[0].label, "pos");
        assert_eq!(p[1].label, "neg");
        assert!(p[0].confidence > 0.5);
        assert_eq!(p[0].runner_up.as_ref().unwrap().label, "neg");
        assert!((p[0].confidence + p[0].runner_up.as_ref().unwrap().score - 1.0).abs() < 1e-5);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        clf.save(&path).unwrap();
        let back = Classifier::load(&path, None).unwrap();
        let texts = ["great", "awful stale", "unknown words"];
        assert_eq!(
            clf.scores(&texts, None).unwrap(),
            back.scores(&texts, None).unwrap()
        );
    }

    #[test]
    fn multi_label_returns_every_label_above_the_threshold() {
        let (clf, _) = Classifier::train(&toy(), &TrainConfig::default(), None).unwrap();
        let p = clf
            .predict(
                &["unrelated"],
                None,
                Decision::MultiLabel { threshold: 0.0 },
            )
            .unwrap();
        assert_eq!(p[0].labels.len(), 2);
        let p = clf
            .predict(
                &["great tasty love"],
                None,
                Decision::MultiLabel { threshold: 0.99 },
            )
            .unwrap();
        assert!(p[0].labels.is_empty() || p[0].labels[0].label == "pos");
    }

    #[test]
    fn refuses_a_single_label_and_a_bad_file() {
        let mut ex = toy();
        ex.labels.iter_mut().for_each(|l| *l = "same".into());
        assert!(matches!(
            Classifier::train(&ex, &TrainConfig::default(), None),
            Err(Error::Training { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, r#"{"format":"docket-classifier","version":99}"#).unwrap();
        assert!(matches!(
            Classifier::load(&path, None),
            Err(Error::FormatVersion { found: 99, .. })
        ));
    }
}
