//! Where docket keeps what it provisions: one rule for every crate and the binary, so
//! that `docket models fetch` puts a model exactly where the embedder and the LLM look,
//! and one lookup and one "not found" error for both.

use std::fmt;
use std::path::{Path, PathBuf};

/// docket's home: `$DOCKET_HOME`, else `$XDG_CACHE_HOME/docket`, else
/// `~/.cache/docket` (the system's temporary folder as a last resort).
pub fn docket_home() -> PathBuf {
    if let Some(home) = env_path("DOCKET_HOME") {
        return home;
    }
    env_path("XDG_CACHE_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("docket")
}

/// Where a default model is looked for, in order: the path in the environment variable
/// `override_var` if it is set, then `rel` under `<docket home>/models/`.
pub fn model_candidates(override_var: &str, rel: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env_path(override_var) {
        out.push(p);
    }
    out.push(docket_home().join("models").join(rel));
    out
}

/// How one default model is found: the embedder's and the LLM's differ only in these
/// values.
#[derive(Debug, Clone, Copy)]
pub struct ModelLookup {
    /// What the model is for, as the error message names it ("embedding", "generator").
    pub role: &'static str,
    /// The environment variable that points at a model elsewhere.
    pub override_var: &'static str,
    /// What that variable must name ("a model directory", "a .gguf file").
    pub override_kind: &'static str,
    /// The model's path under `<docket home>/models/`, as path components.
    pub rel: &'static [&'static str],
    /// A file a candidate must contain to count (a model directory), or `None` when the
    /// candidate is itself the model file.
    pub marker: Option<&'static str>,
}

impl ModelLookup {
    /// The places looked in, in order (see [`model_candidates`]).
    pub fn candidates(&self) -> Vec<PathBuf> {
        model_candidates(self.override_var, &self.rel.iter().collect::<PathBuf>())
    }

    /// The first of [`candidates`](Self::candidates) that holds the model.
    pub fn find(&self) -> Result<PathBuf, ModelNotFound> {
        self.find_among(self.candidates())
    }

    /// The first of `candidates` that holds the model.
    fn find_among(&self, candidates: Vec<PathBuf>) -> Result<PathBuf, ModelNotFound> {
        let found = candidates.iter().find(|p| match self.marker {
            Some(file) => p.join(file).is_file(),
            None => p.is_file(),
        });
        match found {
            Some(p) => Ok(p.clone()),
            None => Err(ModelNotFound {
                role: self.role,
                looked_in: candidates,
                override_var: self.override_var,
                override_kind: self.override_kind,
            }),
        }
    }
}

/// No default model was found in the usual places (the user must fetch or configure
/// one). Wrapped by docket-index's and docket-generate's errors, so that the message is
/// written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNotFound {
    /// What the model is for ("embedding", "generator").
    pub role: &'static str,
    /// The places searched, in order.
    pub looked_in: Vec<PathBuf>,
    /// The environment variable that points at a model elsewhere.
    pub override_var: &'static str,
    /// What that variable must name.
    pub override_kind: &'static str,
}

impl fmt::Display for ModelNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let looked_in: Vec<String> = self
            .looked_in
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        write!(
            f,
            "no {} model found (looked in {}); fetch it with `docket models fetch` or set {} to {}",
            self.role,
            looked_in.join(", "),
            self.override_var,
            self.override_kind
        )
    }
}

impl std::error::Error for ModelNotFound {}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_first_candidate_holding_the_model_or_names_every_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lookup = ModelLookup {
            role: "test",
            override_var: "DOCKET_TEST_MODEL",
            override_kind: "a test directory",
            rel: &["no-such-model-dir", "inner"],
            marker: Some("weights.bin"),
        };
        let candidates = lookup.candidates();
        assert!(
            candidates
                .last()
                .expect("home")
                .ends_with("models/no-such-model-dir/inner")
        );
        let places = vec![dir.path().join("a"), dir.path().join("b")];
        std::fs::create_dir_all(&places[1]).expect("mkdir");
        let err = lookup.find_among(places.clone()).expect_err("no model yet");
        assert_eq!(err.looked_in, places);
        let msg = err.to_string();
        assert!(msg.starts_with("no test model found (looked in "), "{msg}");
        assert!(msg.contains(&format!("{}, {}", places[0].display(), places[1].display())));
        assert!(
            msg.contains("`docket models fetch`") && !msg.contains("--"),
            "{msg}"
        );
        assert!(
            msg.ends_with("set DOCKET_TEST_MODEL to a test directory"),
            "{msg}"
        );
        std::fs::write(places[1].join("weights.bin"), b"x").expect("write");
        assert_eq!(lookup.find_among(places.clone()).expect("found"), places[1]);
        // A file lookup takes the candidate itself: a directory is not a model file.
        let file = ModelLookup {
            marker: None,
            ..lookup
        };
        assert!(file.find_among(places.clone()).is_err());
        let weights = places[1].join("weights.bin");
        assert_eq!(
            file.find_among(vec![weights.clone()]).expect("file"),
            weights
        );
    }
}
