//! Where docket keeps what it provisions: one rule for every crate and the binary, so
//! that `docket models fetch` puts a model exactly where the embedder and the LLM look.

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

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
