//! docket's job engine and the glue every front end shares: the settings of each stage
//! as job files and flags spell them ([`settings`]), the default models and how they
//! are loaded ([`models`]), bringing an index up to date ([`sync`]), declarative batch
//! jobs with their state, lock, quarantine, report and schedule ([`job`]), and
//! crash-safe output files ([`output`]).
//!
//! The `docket` binary is a thin layer over this crate and the stage crates
//! (docket-ingest, docket-index, docket-generate): it parses flags, prints, and maps
//! errors to exit codes ([`Error::fault`]). Nothing here prints or exits: progress and
//! log lines go to a [`report::Reporter`] the caller chooses, and a run stops when the
//! caller's stop flag is set.
//!
//! ```
//! use docket_pipelines::job::Job;
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir(dir.path().join("inbox")).unwrap();
//! let file = dir.path().join("nightly.toml");
//! std::fs::write(
//!     &file,
//!     "version = 1\n[sources]\npaths = [\"inbox\"]\n[[summarize]]\noutput = \"out/digest.md\"\n",
//! )
//! .unwrap();
//! let job = Job::load(&file).unwrap();
//! assert_eq!(job.name, "nightly");
//! assert_eq!(job.tasks[0].name(), "summarize");
//! docket_pipelines::job::check_inputs(&job).unwrap();
//! ```

pub mod documents;
pub mod error;
pub mod explain;
pub mod forget;
pub mod job;
pub mod models;
pub mod output;
pub mod provenance;
pub mod report;
pub mod serve;
pub mod settings;
pub mod sync;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

pub use error::{Error, Fault, Result};
