//! Hybrid retrieval: fusing the dense (vector) and BM25 rankings into one.
//!
//! The two legs fail differently: BM25 finds rare exact terms (names, codes, numbers)
//! and misses paraphrases; dense retrieval finds paraphrases and blurs exact terms. How
//! much each should count depends on the data, so fusion is a setting ([`FusionConfig`]),
//! its default is chosen by measurement, and `docket eval retrieval --tune` can fit it
//! to a labelled set and store it with the index.
//!
//! Two methods:
//! - [`FusionMethod::Convex`]: a weighted sum of each leg's scores after min-max
//!   normalisation over that leg's candidates. It keeps how *much* better one hit is
//!   than the next, which rank-based fusion throws away.
//! - [`FusionMethod::Rrf`]: weighted reciprocal rank fusion, `w / (k + rank)`, which
//!   ignores score scales entirely.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::filter::Hit;

/// Which fusion formula to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Weighted sum of min-max normalised scores.
    Convex,
    /// Weighted reciprocal rank fusion.
    Rrf,
}

/// How the two rankings of a hybrid search are combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusionConfig {
    #[serde(default = "FusionConfig::default_method")]
    pub method: FusionMethod,
    /// Weight of the BM25 leg in [0, 1]; the dense leg gets `1 - bm25_weight`.
    #[serde(default = "FusionConfig::default_bm25_weight")]
    pub bm25_weight: f32,
    /// The `k` of reciprocal rank fusion: larger flattens the rank discount.
    #[serde(default = "FusionConfig::default_rrf_k")]
    pub rrf_k: f32,
    /// Hits fetched from each leg before fusing (at least the `k` asked for).
    #[serde(default = "FusionConfig::default_candidates")]
    pub candidates: usize,
}

impl FusionConfig {
    pub fn default_method() -> FusionMethod {
        FusionMethod::Convex
    }
    /// Measured with `docket eval retrieval --tune` on aclsum-passages-dev (BM25 nDCG@10
    /// 0.667, MiniLM dense 0.531): convex fusion gives 0.652 at 0.5, 0.665 at 0.6, 0.674
    /// at 0.7 and 0.672-0.674 up to 0.9. 0.7 is the smallest weight that keeps the
    /// hybrid above its best leg there, which leaves the dense leg as much say as that
    /// allows for data where it is the stronger one. Tune per index where labels exist.
    pub fn default_bm25_weight() -> f32 {
        0.7
    }
    /// The customary value from the RRF paper (Cormack et al., 2009).
    pub fn default_rrf_k() -> f32 {
        60.0
    }
    /// Enough for Recall@100 and for a fused top 10 that draws on both legs' tails.
    pub fn default_candidates() -> usize {
        100
    }

    /// Reject weights outside [0, 1] and other impossible settings.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.bm25_weight) {
            return Err(Error::Setting {
                name: "bm25_weight",
                reason: format!("{} is not between 0 and 1", self.bm25_weight),
            });
        }
        if !(self.rrf_k.is_finite() && self.rrf_k >= 0.0) {
            return Err(Error::Setting {
                name: "rrf_k",
                reason: format!("{} is not a non-negative number", self.rrf_k),
            });
        }
        if self.candidates == 0 {
            return Err(Error::Setting {
                name: "candidates",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            method: Self::default_method(),
            bm25_weight: Self::default_bm25_weight(),
            rrf_k: Self::default_rrf_k(),
            candidates: Self::default_candidates(),
        }
    }
}

/// A fused hit, with where each leg ranked it (1-based) and its raw leg scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusedHit {
    pub chunk_id: String,
    pub doc_id: String,
    /// The fused score: higher is better, comparable within one result list only.
    pub score: f32,
    pub dense: Option<LegHit>,
    pub bm25: Option<LegHit>,
}

/// A hit's place in one leg's ranking.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LegHit {
    pub rank: usize,
    pub score: f32,
}

/// Fuse two rankings (each best first) into one, best first, ties broken by chunk id so
/// the order is deterministic. Either list may be empty.
pub fn fuse(dense: &[Hit], bm25: &[Hit], config: &FusionConfig) -> Vec<FusedHit> {
    let mut by_chunk: HashMap<&str, FusedHit> = HashMap::new();
    let w_bm25 = config.bm25_weight;
    let w_dense = 1.0 - config.bm25_weight;
    for (leg, hits, weight) in [(Leg::Dense, dense, w_dense), (Leg::Bm25, bm25, w_bm25)] {
        let norm = MinMax::of(hits);
        for (i, hit) in hits.iter().enumerate() {
            let contribution = match config.method {
                FusionMethod::Convex => weight * norm.apply(hit.score),
                FusionMethod::Rrf => weight / (config.rrf_k + (i + 1) as f32),
            };
            let entry = by_chunk
                .entry(hit.chunk_id.as_str())
                .or_insert_with(|| FusedHit {
                    chunk_id: hit.chunk_id.clone(),
                    doc_id: hit.doc_id.clone(),
                    score: 0.0,
                    dense: None,
                    bm25: None,
                });
            let place = LegHit {
                rank: i + 1,
                score: hit.score,
            };
            // A leg that lists a chunk twice (it should not) counts its best place once.
            let slot = match leg {
                Leg::Dense => &mut entry.dense,
                Leg::Bm25 => &mut entry.bm25,
            };
            if slot.is_none() {
                *slot = Some(place);
                entry.score += contribution;
            }
        }
    }
    let mut fused: Vec<FusedHit> = by_chunk.into_values().collect();
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.chunk_id.cmp(&b.chunk_id))
    });
    fused
}

/// Present one leg's ranking in the fused form (for the single-leg modes).
pub fn single_leg(hits: &[Hit], dense: bool) -> Vec<FusedHit> {
    hits.iter()
        .enumerate()
        .map(|(i, h)| {
            let place = Some(LegHit {
                rank: i + 1,
                score: h.score,
            });
            FusedHit {
                chunk_id: h.chunk_id.clone(),
                doc_id: h.doc_id.clone(),
                score: h.score,
                dense: if dense { place } else { None },
                bm25: if dense { None } else { place },
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Leg {
    Dense,
    Bm25,
}

/// Min-max normalisation over one leg's candidates: the best maps to 1, the worst
/// listed to 0 (as does every chunk the leg did not list). A leg whose candidates all
/// score the same maps them all to 1: it cannot tell them apart, but it found them.
struct MinMax {
    min: f32,
    span: f32,
}

impl MinMax {
    fn of(hits: &[Hit]) -> MinMax {
        let (min, max) = hits
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |m, h| {
                (m.0.min(h.score), m.1.max(h.score))
            });
        MinMax {
            min,
            span: max - min,
        }
    }

    fn apply(&self, score: f32) -> f32 {
        if self.span > f32::EPSILON {
            (score - self.min) / self.span
        } else {
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hits(v: &[(&str, f32)]) -> Vec<Hit> {
        v.iter()
            .map(|(id, s)| Hit {
                chunk_id: (*id).into(),
                doc_id: id.split('-').next().unwrap_or(id).into(),
                score: *s,
            })
            .collect()
    }

    fn ids(f: &[FusedHit]) -> Vec<&str> {
        f.iter().map(|h| h.chunk_id.as_str()).collect()
    }

    #[test]
    fn weights_at_the_ends_reproduce_one_leg() {
        let dense = hits(&[("a-0", 0.9), ("b-0", 0.8), ("c-0", 0.1)]);
        let bm25 = hits(&[("c-0", 12.0), ("b-0", 5.0), ("d-0", 1.0)]);
        for method in [FusionMethod::Convex, FusionMethod::Rrf] {
            let only_bm25 = FusionConfig {
                method,
                bm25_weight: 1.0,
                ..FusionConfig::default()
            };
            // (Min-max maps a leg's last candidate to 0, like an absent one: compare
            // the top two.)
            assert_eq!(&ids(&fuse(&dense, &bm25, &only_bm25))[..2], ["c-0", "b-0"]);
            let only_dense = FusionConfig {
                method,
                bm25_weight: 0.0,
                ..FusionConfig::default()
            };
            assert_eq!(&ids(&fuse(&dense, &bm25, &only_dense))[..2], ["a-0", "b-0"]);
        }
    }

    #[test]
    fn a_chunk_both_legs_like_wins_and_keeps_both_ranks() {
        let dense = hits(&[("a-0", 0.9), ("b-0", 0.85), ("c-0", 0.2)]);
        let bm25 = hits(&[("d-0", 9.0), ("b-0", 8.5), ("e-0", 1.0)]);
        let fused = fuse(&dense, &bm25, &FusionConfig::default());
        assert_eq!(fused[0].chunk_id, "b-0");
        assert_eq!(fused[0].dense.unwrap().rank, 2);
        assert_eq!(fused[0].bm25.unwrap().rank, 2);
        assert_eq!(fused[0].bm25.unwrap().score, 8.5);
        assert_eq!(fused.len(), 5);
    }

    #[test]
    fn convex_keeps_score_gaps_that_rrf_ignores() {
        // BM25 is sure of x and barely prefers y over z; dense slightly prefers z.
        let bm25 = hits(&[("x-0", 30.0), ("y-0", 2.01), ("z-0", 2.0)]);
        let dense = hits(&[("z-0", 0.51), ("y-0", 0.50), ("x-0", 0.10)]);
        let convex = fuse(&dense, &bm25, &FusionConfig::default());
        assert_eq!(convex[0].chunk_id, "x-0");
    }

    #[test]
    fn validate_names_the_setting() {
        let bad = FusionConfig {
            bm25_weight: 1.5,
            ..FusionConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::Setting {
                name: "bm25_weight",
                ..
            })
        ));
        FusionConfig::default().validate().unwrap();
        let parsed: FusionConfig = serde_json::from_str(r#"{"method":"rrf"}"#).unwrap();
        assert_eq!(parsed.method, FusionMethod::Rrf);
        assert_eq!(parsed.bm25_weight, FusionConfig::default_bm25_weight());
        assert!(serde_json::from_str::<FusionConfig>(r#"{"weight":1}"#).is_err());
    }

    fn leg() -> impl Strategy<Value = Vec<Hit>> {
        prop::collection::vec((0u8..40, -5.0f32..50.0), 0..30).prop_map(|v| {
            let mut seen = std::collections::HashSet::new();
            let mut out: Vec<Hit> = v
                .into_iter()
                .filter(|(id, _)| seen.insert(*id))
                .map(|(id, s)| Hit {
                    chunk_id: format!("d{id}-0"),
                    doc_id: format!("d{id}"),
                    score: s,
                })
                .collect();
            out.sort_by(|a, b| b.score.total_cmp(&a.score));
            out
        })
    }

    proptest! {
        /// Fused rankings are sorted, hold each chunk once, and hold exactly the union
        /// of both legs.
        #[test]
        fn fused_rankings_are_sorted_unique_unions(
            dense in leg(),
            bm25 in leg(),
            w in 0.0f32..=1.0,
            rrf in any::<bool>(),
        ) {
            let config = FusionConfig {
                method: if rrf { FusionMethod::Rrf } else { FusionMethod::Convex },
                bm25_weight: w,
                ..FusionConfig::default()
            };
            let fused = fuse(&dense, &bm25, &config);
            prop_assert!(fused.windows(2).all(|p| p[0].score >= p[1].score));
            let mut union: Vec<&str> = dense.iter().chain(&bm25).map(|h| h.chunk_id.as_str()).collect();
            union.sort_unstable();
            union.dedup();
            let mut got = ids(&fused);
            got.sort_unstable();
            prop_assert_eq!(got, union);
            for h in &fused {
                prop_assert!(h.score.is_finite());
                prop_assert!(h.dense.is_some() || h.bm25.is_some());
            }
        }
    }
}
