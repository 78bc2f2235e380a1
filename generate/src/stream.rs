//! Pieces shared by the backends' streaming: holding back text that may be the start
//! of a stop sequence, and a seeded sampler.

/// Passes streamed text through, cutting it before the first stop sequence. Text that
/// could still turn out to be the start of a stop sequence is held until it can be
/// ruled out, so nothing that was streamed ever needs taking back.
#[derive(Debug, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    pending: String,
    /// Everything released so far.
    pub text: String,
}

impl StopFilter {
    pub fn new(stops: &[String]) -> Self {
        StopFilter {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            ..Default::default()
        }
    }

    /// Add `piece`; returns the text now safe to release and whether a stop sequence
    /// was met (then nothing after it is released, ever).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.pending.push_str(piece);
        let hit = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = hit {
            let out = self.pending[..at].to_string();
            self.pending.clear();
            self.text.push_str(&out);
            return (out, true);
        }
        // Hold the longest tail of `pending` that begins some stop sequence.
        let hold = self
            .pending
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.pending[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.pending.len());
        let out = self.pending[..hold].to_string();
        self.pending.drain(..hold);
        self.text.push_str(&out);
        (out, false)
    }

    /// The held-back text, once generation ended without meeting a stop sequence.
    pub fn finish(&mut self) -> String {
        let out = std::mem::take(&mut self.pending);
        self.text.push_str(&out);
        out
    }
}

/// SplitMix64: a small, good-enough generator for sampling, seeded for reproducibility.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Pick the next token from `logits`: the most likely at temperature 0, else a sample
/// from the temperature-scaled distribution cut to its top `top_p` of probability.
pub fn sample(logits: &[f32], temperature: f32, top_p: f32, rng: &mut Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv { (i, v) } else { (bi, bv) }
            })
            .0 as u32
    };
    if temperature <= 0.0 || !temperature.is_finite() {
        return argmax();
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, (((l - max) / temperature) as f64).exp()))
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    let mut keep = probs.len();
    if top_p < 1.0 {
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p.1 / total;
            if acc >= top_p as f64 {
                keep = i + 1;
                break;
            }
        }
    }
    let kept = &probs[..keep];
    let kept_total: f64 = kept.iter().map(|p| p.1).sum();
    let mut r = rng.next_f64() * kept_total;
    for &(id, p) in kept {
        if r < p {
            return id;
        }
        r -= p;
    }
    kept.last().map_or_else(argmax, |p| p.0)
}

/// `log softmax(logits)[id]`.
pub fn logprob(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    (logits[id as usize] - max) - sum.ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_filter_holds_back_partial_matches() {
        let mut f = StopFilter::new(&["END".to_string(), "\n\n".to_string()]);
        assert_eq!(f.push("hello E"), ("hello ".to_string(), false));
        assert_eq!(f.push("N"), (String::new(), false));
        assert_eq!(f.push("x"), ("ENx".to_string(), false));
        assert_eq!(f.push(" done\n"), (" done".to_string(), false));
        assert_eq!(f.push("\nmore"), (String::new(), true));
        assert_eq!(f.text, "hello ENx done");

        let mut f = StopFilter::new(&[]);
        assert_eq!(f.push("é"), ("é".to_string(), false));
        let mut f = StopFilter::new(&["ab".to_string()]);
        assert_eq!(f.push("xa"), ("x".to_string(), false));
        assert_eq!(f.finish(), "a");
    }

    #[test]
    fn sampling_is_seeded_and_greedy_at_zero() {
        let logits = [0.0, 2.0, 1.0, 1.9];
        assert_eq!(sample(&logits, 0.0, 1.0, &mut Rng::new(1)), 1);
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..20)
                .map(|_| sample(&logits, 1.0, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert!(
            draw(7).iter().any(|&t| t != 1),
            "temperature 1 never sampled"
        );
        // top_p small enough keeps only the best token.
        let mut rng = Rng::new(3);
        assert!((0..20).all(|_| sample(&logits, 1.0, 0.1, &mut rng) == 1));
        let lp: f32 = (0..4).map(|i| logprob(&logits, i).exp()).sum();
        assert!((lp - 1.0).abs() < 1e-5);
    }
}
