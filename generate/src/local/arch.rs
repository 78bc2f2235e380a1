//! The llama-family architectures the local backend runs, parsed once from a GGUF
//! file's `general.architecture`. They share one forward pass (see [`super::model`]):
//! what differs is the rotary embedding's layout and the chat format a Qwen2 model
//! without a template gets, both asked of this type rather than of a string.

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
}

impl Architecture {
    /// Every supported architecture, in the order error messages list them.
    pub const ALL: [Architecture; 3] = [
        Architecture::Llama,
        Architecture::Mistral,
        Architecture::Qwen2,
    ];

    /// The name in `general.architecture`, which also prefixes the model's keys in the
    /// GGUF metadata (`llama.block_count`).
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Mistral => "mistral",
            Architecture::Qwen2 => "qwen2",
        }
    }

    /// Whether RoPE rotates the halves `(i, i + d/2)` of a head (NeoX layout) rather
    /// than interleaved pairs: Qwen2's GGUF keeps its Q/K weights unpermuted, while
    /// llama.cpp's converter permutes those of llama and Mistral for interleaved pairs.
    pub fn rope_neox(self) -> bool {
        self == Architecture::Qwen2
    }

    /// Whether the model chats in ChatML when its GGUF file has no template.
    pub fn defaults_to_chatml(self) -> bool {
        self == Architecture::Qwen2
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
        assert!(!Architecture::Mistral.defaults_to_chatml());
        let err = "gemma2".parse::<Architecture>().expect_err("unsupported");
        assert_eq!(
            err.to_string(),
            "architecture `gemma2` (llama, mistral and qwen2 are supported)"
        );
        assert!("Llama".parse::<Architecture>().is_err());
    }
}
