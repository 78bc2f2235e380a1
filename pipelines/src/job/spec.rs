//! Job files: a versioned TOML description of one batch job, the sources it reads, the
//! index it keeps and the tasks it runs over the documents.
//!
//! Every table rejects keys it does not know (a misspelt `ouptut` must not silently
//! fall back to a default in a job that runs unattended), and the TOML parser's error
//! names the line and the key. Relative paths resolve against the job file's folder, so
//! a job runs the same from cron, systemd or a shell in any working directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use docket_index::Filter;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::settings::{IndexSpec, LlmSpec, Sources};

/// The job file format this docket reads.
pub const VERSION: u32 = 1;

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
    /// Longest a task may work on one document (one question for an answer task), in
    /// seconds; a document that takes longer fails (and counts an attempt). Checked as
    /// the LLM generates and before each model call. 0: no limit.
    #[serde(default = "JobSpec::default_task_timeout_secs")]
    pub task_timeout_secs: u64,
    /// Heap ceiling of the run in MiB (0: none); `--max-memory` wins over it. Default:
    /// [`crate::settings::default_max_memory_mib`].
    #[serde(default)]
    pub max_memory_mib: Option<u64>,
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
    pub fn default_task_timeout_secs() -> u64 {
        600
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
    /// With `llm`: keep paragraphs flagged as instructions to an assistant in what the
    /// model reads (left out by default).
    #[serde(default)]
    pub allow_flagged: bool,
    /// Only documents matching all of these (`source` glob, `format`, metadata fields).
    #[serde(default)]
    pub filter: Filter,
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
    pub filter: Filter,
    /// Keep paragraphs flagged as instructions to an assistant in what is summarized
    /// (left out by default).
    #[serde(default)]
    pub allow_flagged: bool,
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
    /// How answers are made: `extractive` (the default: the sources' own sentences),
    /// `select` (the LLM picks among them) or `generate` (the LLM writes, every sentence
    /// checked). `extractive = true` is `strategy = "extractive"`.
    #[serde(default)]
    pub strategy: Option<docket_generate::answer::AnswerStrategy>,
    /// Retrieve only from documents matching these.
    #[serde(default)]
    pub filter: Filter,
    /// Let chunks flagged at ingest as instructions to an assistant into the context
    /// (left out by default).
    #[serde(default)]
    pub allow_flagged: bool,
}

impl AnswerTask {
    /// The strategy this task answers with.
    pub fn strategy(&self) -> docket_generate::answer::AnswerStrategy {
        use docket_generate::answer::{AnswerStrategy, AskOptions};
        match (self.extractive, self.strategy) {
            (true, _) => AnswerStrategy::Extractive,
            (false, Some(s)) => s,
            (false, None) => AskOptions::default_strategy(),
        }
    }
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

    /// Files the task reads besides the index (labels, examples, a saved model,
    /// questions): their hashes are part of its fingerprint, and no output may
    /// overwrite them.
    pub fn inputs(&self) -> Vec<PathBuf> {
        match self {
            Task::Classify(t) => [&t.labels_file, &t.examples, &t.model]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            Task::Summarize(_) => Vec::new(),
            Task::Answer(t) => vec![t.questions.clone()],
        }
    }

    /// The task's filter (`filter = { source = GLOB, format = ..., KEY = VALUE }`, the
    /// rules of `--filter KEY=VALUE`, checked when the job file is read).
    pub fn filter(&self) -> &Filter {
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
    pub fn load(file: &Path) -> Result<Job, Error> {
        let err = |reason: String| Error::JobFile {
            path: file.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(file).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut spec: JobSpec = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let name = check(&spec, file).map_err(err)?;
        let base = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        resolve_paths(&mut spec, &base);
        let mut tasks = tasks_of(&spec, &base).map_err(err)?;
        name_tasks(&mut tasks);
        check_tasks(&tasks).map_err(err)?;
        let job = Job {
            file: file.to_owned(),
            base,
            name,
            spec,
            tasks,
        };
        check_outputs(&job).map_err(err)?;
        Ok(job)
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

    /// Where the job keeps its state: beside the index it writes.
    pub fn state_dir(&self) -> PathBuf {
        self.spec.index.dir.join("jobs").join(&self.name)
    }
}

/// The job's name (from the file name unless given), after the checks that need no
/// path resolved.
fn check(spec: &JobSpec, file: &Path) -> Result<String, String> {
    if spec.version != VERSION {
        return Err(format!(
            "version {} is not supported (this docket reads version {VERSION})",
            spec.version
        ));
    }
    let name = match &spec.name {
        Some(n) => n.clone(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job".into()),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(allowed) || name.starts_with('.') {
        return Err(format!(
            "name {name:?}: use letters, digits, '-', '_' and '.' (it names a folder)"
        ));
    }
    if spec.sources.paths.is_empty() {
        return Err("[sources] paths is empty".into());
    }
    if spec.max_attempts == 0 {
        return Err("max_attempts must be at least 1".into());
    }
    if let Some(expr) = &spec.schedule {
        crate::job::schedule::parse_cron(expr).map_err(|e| format!("schedule: {e}"))?;
    }
    Ok(name)
}

fn resolve(base: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

/// Relative paths of the job-wide settings resolved against the job file's folder.
fn resolve_paths(spec: &mut JobSpec, base: &Path) {
    spec.sources.paths.iter_mut().for_each(|p| resolve(base, p));
    resolve(base, &mut spec.index.dir);
    for p in [
        &mut spec.index.chunking.embed_model,
        &mut spec.llm.model,
        &mut spec.report,
    ]
    .into_iter()
    .flatten()
    {
        resolve(base, p);
    }
}

/// The tasks in file order (classify, summarize, answer), paths resolved and each
/// task's own settings checked.
fn tasks_of(spec: &JobSpec, base: &Path) -> Result<Vec<Task>, String> {
    let mut tasks = Vec::new();
    for mut t in spec.classify.clone() {
        resolve(base, &mut t.output);
        for p in [&mut t.labels_file, &mut t.examples, &mut t.model]
            .into_iter()
            .flatten()
        {
            resolve(base, p);
        }
        check_classify(&t)?;
        tasks.push(Task::Classify(t));
    }
    for mut t in spec.summarize.clone() {
        resolve(base, &mut t.output);
        if t.length == 0 || t.words == Some(0) {
            return Err("[[summarize]]: length and words must be at least 1".into());
        }
        tasks.push(Task::Summarize(t));
    }
    for mut t in spec.answer.clone() {
        resolve(base, &mut t.output);
        resolve(base, &mut t.questions);
        if t.k == 0 {
            return Err("[[answer]]: k must be at least 1".into());
        }
        tasks.push(Task::Answer(t));
    }
    Ok(tasks)
}

fn check_classify(t: &ClassifyTask) -> Result<(), String> {
    let ways = usize::from(!t.labels.is_empty())
        + usize::from(t.labels_file.is_some())
        + usize::from(t.examples.is_some())
        + usize::from(t.model.is_some());
    let label = t.name.clone().unwrap_or_else(|| "classify".into());
    if ways != 1 {
        return Err(format!(
            "[[classify]] {label}: give exactly one of labels, labels_file, examples or model"
        ));
    }
    if t.llm && (t.examples.is_some() || t.model.is_some() || t.multi.is_some()) {
        return Err(format!(
            "[[classify]] {label}: llm = true takes labels or labels_file only (no examples, model or multi)"
        ));
    }
    Ok(())
}

/// Unnamed tasks of one kind are numbered in file order: `classify`, `classify-2`, ...
fn name_tasks(tasks: &mut [Task]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
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
}

/// No output may overwrite what the job reads or keeps: its job file, a task's input
/// (questions, labels, examples, a saved model), its report, or its state.
fn check_outputs(job: &Job) -> Result<(), String> {
    let normal = |p: &Path| -> PathBuf { p.components().collect() };
    let mut kept = vec![
        (normal(&job.file), "the job file".to_owned()),
        (normal(&job.report_path()), "the run report".to_owned()),
    ];
    for t in &job.tasks {
        for input in t.inputs() {
            kept.push((normal(&input), format!("an input of task {}", t.name())));
        }
    }
    let state = normal(&job.state_dir());
    for t in &job.tasks {
        let out = normal(t.output());
        if out.starts_with(&state) {
            return Err(format!(
                "task {}: output {} is inside the job's state folder",
                t.name(),
                t.output().display()
            ));
        }
        if let Some((_, what)) = kept.iter().find(|(p, _)| *p == out) {
            return Err(format!(
                "task {}: output {} would overwrite {what}",
                t.name(),
                t.output().display()
            ));
        }
    }
    Ok(())
}

/// Task names and outputs are unique.
fn check_tasks(tasks: &[Task]) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    let mut outputs = std::collections::BTreeSet::new();
    for t in tasks {
        if t.name() == crate::job::state::INDEX_STAGE || !names.insert(t.name().to_owned()) {
            return Err(format!(
                "task name {:?} is used twice or reserved",
                t.name()
            ));
        }
        if !outputs.insert(t.output().to_owned()) {
            return Err(format!(
                "two tasks write the same output {}",
                t.output().display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Job, Error> {
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
        // Keys of [sources] and [index] go through embedded settings structs: the parser
        // names the key and points at its table.
        let e = load("version = 1\n[sources]\npaths = [\"a\"]\nhiden = true\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("hiden") && msg.contains("line 2"), "{msg}");
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
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[answer]]\nquestions = \"q.txt\"\noutput = \"q.txt\"\n",
                "would overwrite an input of task answer",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[classify]]\nlabels_file = \"l.txt\"\noutput = \"o.csv\"\n[[summarize]]\noutput = \"./l.txt\"\n",
                "would overwrite an input of task classify",
            ),
            (
                "version = 1\nreport = \"r.json\"\n[sources]\npaths = [\"a\"]\n[[summarize]]\noutput = \"r.json\"\n",
                "the run report",
            ),
            (
                "version = 1\n[sources]\npaths = [\"a\"]\n[[summarize]]\noutput = \".docket/jobs/nightly/out.md\"\n",
                "state folder",
            ),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
