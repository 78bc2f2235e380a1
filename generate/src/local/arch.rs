//! The llama-family architectures the local backend runs, parsed once from a GGUF
//! file's `general.architecture`. They share one forward pass (see [`super::model`]):
//! what differs (the rotary embedding's layout, the activation, Gemma's embedding
//! scale and sliding-window layers, the chat format a model without a template gets)
//! is asked of this type rather than of a string. Per-head Q/K norms and the norms
//! after attention and feed-forward (Qwen3, Gemma 3) are read when the file has them.

use std::fmt;
use std::str::FromStr;

/// A supported value of `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Llama 2/3, SmolLM2 and other models converted as `llama`.
    Llama,
    /// Mistral (GGUF files of Mistral are usually `llama`; some say `mistral`).
    Mistral,
    /// Qwen2.
    Qwen2,
    /// Qwen3: Qwen2 without biases, with RMS norms on each query and key head.
    Qwen3,
    /// Gemma 3: GELU, embeddings scaled by √hidden, Q/K norms, norms after attention
    /// and feed-forward, and five sliding-window layers to each global one.
    Gemma3,
}

impl Architecture {
    /// Every supported architecture, in the order error messages list them.
    pub const ALL: [Architecture; 5] = [
        Architecture::Llama,
        Architecture::Mistral,
        Architecture::Qwen2,
        Architecture::Qwen3,
        Architecture::Gemma3,
    ];

    /// The name in `general.architecture`, which also prefixes the model's keys in the
    /// GGUF metadata (`llama.block_count`).
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Mistral => "mistral",
            Architecture::Qwen2 => "qwen2",
            Architecture::Qwen3 => "qwen3",
            Architecture::Gemma3 => "gemma3",
        }
    }

    /// Whether RoPE rotates the halves `(i, i + d/2)` of a head (NeoX layout) rather
    /// than interleaved pairs: Qwen's and Gemma's GGUFs keep their Q/K weights
    /// unpermuted, while llama.cpp's converter permutes those of llama and Mistral for
    /// interleaved pairs.
    pub fn rope_neox(self) -> bool {
        matches!(
            self,
            Architecture::Qwen2 | Architecture::Qwen3 | Architecture::Gemma3
        )
    }

    /// Whether the model chats in ChatML when its GGUF file has no template.
    pub fn defaults_to_chatml(self) -> bool {
        matches!(self, Architecture::Qwen2 | Architecture::Qwen3)
    }

    /// Whether the feed-forward gate is GELU (tanh approximation) rather than SiLU.
    pub fn gelu(self) -> bool {
        self == Architecture::Gemma3
    }

    /// Whether token embeddings are multiplied by √hidden before the first layer.
    pub fn scales_embeddings(self) -> bool {
        self == Architecture::Gemma3
    }

    /// Sliding-window layers: every `n`-th layer (the last of each group of `n`) is
    /// global, the others attend to the last `{arch}.attention.sliding_window`
    /// positions with their own rotary base. GGUF files do not record the pattern;
    /// llama.cpp fixes it per architecture, as here.
    pub fn sliding_window_pattern(self) -> Option<usize> {
        (self == Architecture::Gemma3).then_some(6)
    }

    /// The rotary base of sliding-window layers (the global layers' is the file's
    /// `rope.freq_base`); fixed per architecture, as in llama.cpp.
    pub fn local_rope_base(self) -> Option<f32> {
        (self == Architecture::Gemma3).then_some(10_000.0)
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Architecture {
    type Err = UnknownArchitecture;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Architecture::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownArchitecture(s.to_owned()))
    }
}

/// A `general.architecture` the local backend does not run; its message names it and
/// the supported ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownArchitecture(pub String);

impl fmt::Display for UnknownArchitecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.as_str()).collect();
        write!(
            f,
            "architecture `{}` ({} and {} are supported)",
            self.0,
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        )
    }
}

impl std::error::Error for UnknownArchitecture {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_one_names_the_supported() {
        for a in Architecture::ALL {
            assert_eq!(a.as_str().parse::<Architecture>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert!(Architecture::Qwen2.rope_neox() && !Architecture::Llama.rope_neox());
        assert!(Architecture::Gemma3.rope_neox() && Architecture::Gemma3.gelu());
        assert!(Architecture::Qwen3.defaults_to_chatml() && !Architecture::Qwen3.gelu());
        assert!(!Architecture::Mistral.defaults_to_chatml());
        let err = "gemma2".parse::<Architecture>().expect_err("unsupported");
        assert_eq!(
            err.to_string(),
            "architecture `gemma2` (llama, mistral, qwen2, qwen3 and gemma3 are supported)"
        );
        assert!("Llama".parse::<Architecture>().is_err());
    }
}
