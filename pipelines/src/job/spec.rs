//! Job files: a versioned TOML description of one batch job, the sources it reads, the
//! index it keeps and the tasks it runs over the documents.
//!
//! Every table rejects keys it does not know (a misspelt `ouptut` must not silently
//! fall back to a default in a job that runs unattended), and the TOML parser's error
//! names the line and the key. Relative paths resolve against the job file's folder, so
//! a job runs the same from cron, systemd or a shell in any working directory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The job file format this docket reads.
pub const VERSION: u32 = 1;

/// A job file that cannot be used: exit code [`crate::EXIT_JOB_FILE`].
#[derive(Debug)]
pub struct JobFileError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for JobFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job file {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for JobFileError {}

/// One job file, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Format version; must be [`VERSION`].
    pub version: u32,
    /// Name of the job (state, lock and report are kept under it); default: the file
    /// name without extension.
    #[serde(default)]
    pub name: Option<String>,
    /// Cron expression (`min hour day month weekday`) for `docket schedule`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Failed attempts on one document before a task quarantines it.
    #[serde(default = "JobSpec::default_max_attempts")]
    pub max_attempts: u32,
    /// Where the run report goes (default: beside the first task's output, or beside
    /// the job file when there is no task).
    #[serde(default)]
    pub report: Option<PathBuf>,
    pub sources: Sources,
    #[serde(default)]
    pub index: IndexSpec,
    #[serde(default)]
    pub llm: LlmSpec,
    #[serde(default)]
    pub classify: Vec<ClassifyTask>,
    #[serde(default)]
    pub summarize: Vec<SummarizeTask>,
    #[serde(default)]
    pub answer: Vec<AnswerTask>,
}

impl JobSpec {
    pub fn default_max_attempts() -> u32 {
        3
    }
}

/// The documents a job reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Files, folders and records files (CSV, TSV, JSON Lines: one document per row).
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub no_ignore: bool,
    /// Delete from the index (and from every task's output) documents whose files are
    /// gone.
    #[serde(default = "Sources::default_prune")]
    pub prune: bool,
    /// Records files: the text columns, the id column, the title column, HTML text.
    #[serde(default)]
    pub text_columns: Vec<String>,
    #[serde(default)]
    pub id_column: Option<String>,
    #[serde(default)]
    pub title_column: Option<String>,
    #[serde(default)]
    pub records_html: bool,
    /// Environment variable holding the password of encrypted PDFs (never the password
    /// itself: job files end up in version control).
    #[serde(default)]
    pub pdf_password_env: Option<String>,
    #[serde(default)]
    pub max_file_mib: Option<u64>,
    #[serde(default)]
    pub parse_timeout_secs: Option<u64>,
}

impl Sources {
    pub fn default_prune() -> bool {
        true
    }
}

/// The index the job keeps in step with its sources.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    /// Index directory (catalog, BM25, embedded vectors, job state).
    #[serde(default = "IndexSpec::default_dir")]
    pub dir: PathBuf,
    /// Embed chunks (false: a BM25-only index, no model needed).
    #[serde(default = "IndexSpec::default_embed")]
    pub embed: bool,
    /// Folder of the embedding model (default: the default model).
    #[serde(default)]
    pub embed_model: Option<PathBuf>,
    #[serde(default)]
    pub chunk_tokens: Option<usize>,
    #[serde(default)]
    pub chunk_overlap: Option<usize>,
    #[serde(default = "docket_index::WriteConfig::default_commit_chunks")]
    pub commit_every: usize,
    /// gRPC URL of a Qdrant server or cluster for the vectors.
    #[serde(default)]
    pub qdrant_url: Option<String>,
    #[serde(default = "IndexSpec::default_collection")]
    pub qdrant_collection: String,
    #[serde(default = "IndexSpec::default_one")]
    pub qdrant_shards: u32,
    #[serde(default = "IndexSpec::default_one")]
    pub qdrant_replicas: u32,
    #[serde(default = "IndexSpec::default_api_key_env")]
    pub qdrant_api_key_env: String,
}

impl IndexSpec {
    pub fn default_dir() -> PathBuf {
        PathBuf::from(".docket")
    }
    pub fn default_embed() -> bool {
        true
    }
    pub fn default_collection() -> String {
        "docket_chunks".into()
    }
    pub fn default_one() -> u32 {
        1
    }
    pub fn default_api_key_env() -> String {
        "QDRANT_API_KEY".into()
    }
}

impl Default for IndexSpec {
    fn default() -> Self {
        IndexSpec {
            dir: IndexSpec::default_dir(),
            embed: IndexSpec::default_embed(),
            embed_model: None,
            chunk_tokens: None,
            chunk_overlap: None,
            commit_every: docket_index::WriteConfig::default_commit_chunks(),
            qdrant_url: None,
            qdrant_collection: IndexSpec::default_collection(),
            qdrant_shards: 1,
            qdrant_replicas: 1,
            qdrant_api_key_env: IndexSpec::default_api_key_env(),
        }
    }
}

/// The LLM of the job's generating tasks (default: the default local model).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSpec {
    /// A llama-family GGUF file.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible server.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "LlmSpec::default_name")]
    pub name: String,
    #[serde(default = "LlmSpec::default_api_key_env")]
    pub api_key_env: String,
    #[serde(default = "LlmSpec::default_max_tokens")]
    pub max_tokens: usize,
}

impl LlmSpec {
    pub fn default_name() -> String {
        "default".into()
    }
    pub fn default_api_key_env() -> String {
        "DOCKET_LLM_API_KEY".into()
    }
    pub fn default_max_tokens() -> usize {
        256
    }
}

impl Default for LlmSpec {
    fn default() -> Self {
        LlmSpec {
            model: None,
            url: None,
            name: LlmSpec::default_name(),
            api_key_env: LlmSpec::default_api_key_env(),
            max_tokens: LlmSpec::default_max_tokens(),
        }
    }
}

/// `[[classify]]`: a label for every document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyTask {
    /// Unique among the job's tasks (default: `classify`, `classify-2`, ...).
    #[serde(default)]
    pub name: Option<String>,
    /// CSV (`.csv`) or JSON Lines: one row per document.
    pub output: PathBuf,
    /// Zero-shot labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Zero-shot labels with descriptions (`label: description` per line).
    #[serde(default)]
    pub labels_file: Option<PathBuf>,
    /// Labelled examples (CSV/TSV with a header) to train on.
    #[serde(default)]
    pub examples: Option<PathBuf>,
    #[serde(default = "ClassifyTask::default_text_col")]
    pub text_col: String,
    #[serde(default = "ClassifyTask::default_label_col")]
    pub label_col: String,
    /// A classifier saved by `docket classify --save-model`.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Multi-label: every label scoring at least this.
    #[serde(default)]
    pub multi: Option<f32>,
    /// Ask the job's LLM (labels only).
    #[serde(default)]
    pub llm: bool,
    /// Only documents matching all of these (`source` glob, `format`, metadata fields).
    #[serde(default)]
    pub filter: BTreeMap<String, String>,
}

impl ClassifyTask {
    pub fn default_text_col() -> String {
        "text".into()
    }
    pub fn default_label_col() -> String {
        "label".into()
    }
}

/// `[[summarize]]`: a summary of every document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizeTask {
    #[serde(default)]
    pub name: Option<String>,
    /// JSON Lines, or Markdown (`.md`: a digest, one section per document).
    pub output: PathBuf,
    /// Sentences per summary.
    #[serde(default = "SummarizeTask::default_length")]
    pub length: usize,
    /// A budget in words instead of sentences.
    #[serde(default)]
    pub words: Option<usize>,
    /// The job's LLM writes the summaries (map-reduce over the document, every sentence
    /// checked against it, calls cached in `<index>/cache/summaries`).
    #[serde(default)]
    pub abstractive: bool,
    #[serde(default)]
    pub filter: BTreeMap<String, String>,
}

impl SummarizeTask {
    pub fn default_length() -> usize {
        3
    }
}

/// `[[answer]]`: every question of a questions file answered over the archive, with
/// citations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerTask {
    #[serde(default)]
    pub name: Option<String>,
    /// One question per line (`#` comments), or JSON Lines / CSV with `question` (and
    /// optionally `id`).
    pub questions: PathBuf,
    /// JSON Lines (as `docket ask --json`), or Markdown (`.md`).
    pub output: PathBuf,
    #[serde(default = "docket_generate::answer::AnswerConfig::default_k")]
    pub k: usize,
    /// Answer with the sources' own sentences, no LLM.
    #[serde(default)]
    pub extractive: bool,
    /// Retrieve only from documents matching these.
    #[serde(default)]
    pub filter: BTreeMap<String, String>,
}

/// The kind of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Classify,
    Summarize,
    Answer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Classify => "classify",
            Kind::Summarize => "summarize",
            Kind::Answer => "answer",
        }
    }
}

/// One task of a loaded job, with its name settled and paths resolved.
#[derive(Debug, Clone)]
pub enum Task {
    Classify(ClassifyTask),
    Summarize(SummarizeTask),
    Answer(AnswerTask),
}

impl Task {
    pub fn kind(&self) -> Kind {
        match self {
            Task::Classify(_) => Kind::Classify,
            Task::Summarize(_) => Kind::Summarize,
            Task::Answer(_) => Kind::Answer,
        }
    }

    pub fn name(&self) -> &str {
        let name = match self {
            Task::Classify(t) => &t.name,
            Task::Summarize(t) => &t.name,
            Task::Answer(t) => &t.name,
        };
        name.as_deref().unwrap_or(self.kind().as_str())
    }

    pub fn output(&self) -> &Path {
        match self {
            Task::Classify(t) => &t.output,
            Task::Summarize(t) => &t.output,
            Task::Answer(t) => &t.output,
        }
    }

    pub fn filter(&self) -> &BTreeMap<String, String> {
        match self {
            Task::Classify(t) => &t.filter,
            Task::Summarize(t) => &t.filter,
            Task::Answer(t) => &t.filter,
        }
    }

    /// The settings that shape a task's results, as JSON: a result made under other
    /// settings is stale and redone. The name and the output path are left out, since
    /// moving the output must not redo the work.
    pub fn settings_json(&self) -> String {
        let value = match self {
            Task::Classify(t) => serde_json::to_value(t),
            Task::Summarize(t) => serde_json::to_value(t),
            Task::Answer(t) => serde_json::to_value(t),
        };
        let mut value = value.unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("name");
            map.remove("output");
        }
        value.to_string()
    }
}

/// A job file, loaded and checked.
#[derive(Debug, Clone)]
pub struct Job {
    pub file: PathBuf,
    /// The folder relative paths resolve against.
    pub base: PathBuf,
    pub name: String,
    pub spec: JobSpec,
    pub tasks: Vec<Task>,
}

impl Job {
    /// Read, parse and check a job file; relative paths come back resolved.
    pub fn load(file: &Path) -> Result<Job, JobFileError> {
        let err = |reason: String| JobFileError {
            path: file.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(file).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut spec: JobSpec = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if spec.version != VERSION {
            return Err(err(format!(
                "version {} is not supported (this docket reads version {VERSION})",
                spec.version
            )));
        }
        let base = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = match &spec.name {
            Some(n) => n.clone(),
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "job".into()),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            return Err(err(format!(
                "name {name:?}: use letters, digits, '-', '_' and '.' (it names a folder)"
            )));
        }
        if spec.sources.paths.is_empty() {
            return Err(err("[sources] paths is empty".into()));
        }
        if spec.max_attempts == 0 {
            return Err(err("max_attempts must be at least 1".into()));
        }
        if let Some(expr) = &spec.schedule {
            crate::job::schedule::parse_cron(expr).map_err(|e| err(format!("schedule: {e}")))?;
        }
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        spec.sources.paths.iter_mut().for_each(resolve);
        resolve(&mut spec.index.dir);
        if let Some(p) = spec.index.embed_model.as_mut() {
            resolve(p);
        }
        if let Some(p) = spec.llm.model.as_mut() {
            resolve(p);
        }
        if let Some(p) = spec.report.as_mut() {
            resolve(p);
        }

        let mut tasks = Vec::new();
        for mut t in spec.classify.clone() {
            resolve(&mut t.output);
            for p in [&mut t.labels_file, &mut t.examples, &mut t.model]
                .into_iter()
                .flatten()
            {
                resolve(p);
            }
            let ways = usize::from(!t.labels.is_empty())
                + usize::from(t.labels_file.is_some())
                + usize::from(t.examples.is_some())
                + usize::from(t.model.is_some());
            let label = t.name.clone().unwrap_or_else(|| "classify".into());
            if ways != 1 {
                return Err(err(format!(
                    "[[classify]] {label}: give exactly one of labels, labels_file, examples or model"
                )));
            }
            if t.llm && (t.examples.is_some() || t.model.is_some() || t.multi.is_some()) {
                return Err(err(format!(
                    "[[classify]] {label}: llm = true takes labels or labels_file only (no examples, model or multi)"
                )));
            }
            tasks.push(Task::Classify(t));
        }
        for mut t in spec.summarize.clone() {
            resolve(&mut t.output);
            if t.length == 0 || t.words == Some(0) {
                return Err(err(
                    "[[summarize]]: length and words must be at least 1".into()
                ));
            }
            tasks.push(Task::Summarize(t));
        }
        for mut t in spec.answer.clone() {
            resolve(&mut t.output);
            resolve(&mut t.questions);
            if t.k == 0 {
                return Err(err("[[answer]]: k must be at least 1".into()));
            }
            tasks.push(Task::Answer(t));
        }
        // Unnamed tasks of one kind are numbered in file order.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for t in &mut tasks {
            let kind = t.kind().as_str();
            let slot = match t {
                Task::Classify(t) => &mut t.name,
                Task::Summarize(t) => &mut t.name,
                Task::Answer(t) => &mut t.name,
            };
            if slot.is_none() {
                let n = seen.entry(kind.to_owned()).or_default();
                *n += 1;
                *slot = Some(if *n == 1 {
                    kind.to_owned()
                } else {
                    format!("{kind}-{n}")
                });
            }
        }
        let mut names = std::collections::BTreeSet::new();
        let mut outputs = std::collections::BTreeSet::new();
        for t in &tasks {
            if t.name() == crate::job::state::INDEX_STAGE || !names.insert(t.name().to_owned()) {
                return Err(err(format!(
                    "task name {:?} is used twice or reserved",
                    t.name()
                )));
            }
            if !outputs.insert(t.output().to_owned()) {
                return Err(err(format!(
                    "two tasks write the same output {}",
                    t.output().display()
                )));
            }
            crate::search_cmd::parse_filters(&filter_flags(t.filter()))
                .map_err(|e| err(format!("task {}: filter: {e}", t.name())))?;
        }
        Ok(Job {
            file: file.to_owned(),
            base,
            name,
            spec,
            tasks,
        })
    }

    /// Where the run report goes.
    pub fn report_path(&self) -> PathBuf {
        if let Some(p) = &self.spec.report {
            return p.clone();
        }
        let dir = self
            .tasks
            .first()
            .and_then(|t| t.output().parent())
            .unwrap_or(&self.base);
        dir.join(format!("{}.report.json", self.name))
    }
}

/// A task's `filter` table as `--filter KEY=VALUE` flags.
pub fn filter_flags(filter: &BTreeMap<String, String>) -> Vec<String> {
    filter.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Job, JobFileError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nightly.toml");
        std::fs::write(&file, text).unwrap();
        Job::load(&file)
    }

    #[test]
    fn a_full_job_loads_with_paths_resolved_against_its_folder() {
        let job = load(
            r#"
version = 1
schedule = "0 2 * * *"
[sources]
paths = ["archive", "/abs/feedback.csv"]
[index]
dir = "state/index"
[[classify]]
labels = ["billing", "travel"]
output = "out/labels.csv"
filter = { source = "policies/**" }
[[classify]]
labels = ["a", "b"]
output = "out/labels2.jsonl"
[[summarize]]
output = "out/digest.md"
[[answer]]
questions = "questions.txt"
output = "out/answers.jsonl"
"#,
        )
        .unwrap();
        assert_eq!(job.name, "nightly");
        assert!(job.spec.sources.paths[0].ends_with("archive"));
        assert!(
            job.spec.sources.paths[0].is_absolute()
                || job.spec.sources.paths[0].starts_with(&job.base)
        );
        assert_eq!(
            job.spec.sources.paths[1],
            PathBuf::from("/abs/feedback.csv")
        );
        assert!(job.spec.index.dir.starts_with(&job.base));
        let names: Vec<&str> = job.tasks.iter().map(Task::name).collect();
        assert_eq!(names, ["classify", "classify-2", "summarize", "answer"]);
        assert_eq!(job.report_path(), job.base.join("out/nightly.report.json"));
        assert!(job.spec.sources.prune);
        assert_eq!(job.spec.max_attempts, 3);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_key_and_its_line() {
        let e = load(
            "version = 1\n[sources]\npaths = [\"a\"]\n[[classify]]\nlabels = [\"x\"]\nouptut = \"o.csv\"\n",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("ouptut"), "{msg}");
        assert!(msg.contains("line 6"), "{msg}");
        let e = load("version = 1\ncolour = 3\n[sources]\npaths = [\"a\"]\n").unwrap_err();
        assert!(
            e.to_string().contains("colour") && e.to_string().contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn bad_jobs_say_what_is_wrong() {
        let cases = [
            ("version = 2\n[sources]\npaths = [\"a\"]\n", "version 2"),
            ("[sources]\npaths = [\"a\"]\n", "version"),
            ("version = 1\n[sources]\npaths = []\n", "paths is empty"),
            (
                "version = 1\nschedule = \"61 * * * *\"\n[sources]\npaths = [\"a\"]\n",
                "schedule",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[classify]]\noutput = \"o.csv\"\n",
                "exactly one of",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[classify]]\nlabels = [\"x\"]\nexamples = \"e.csv\"\noutput = \"o.csv\"\n",
                "exactly one of",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[summarize]]\noutput = \"o.jsonl\"\n[[answer]]\nquestions = \"q\"\noutput = \"o.jsonl\"\n",
                "same output",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[summarize]]\nname = \"x\"\noutput = \"a.jsonl\"\n[[summarize]]\nname = \"x\"\noutput = \"b.jsonl\"\n",
                "used twice",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[summarize]]\noutput = \"a.jsonl\"\nfilter = { \"\" = \"x\" }\n",
                "filter",
            ),
            (
                "version = 1\nname = \"../x\"\n[sources]\npaths = [\"a\"]\n",
                "name",
            ),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
