//! The generate stage of docket: retrieves context from the index and classifies,
//! summarizes or answers with an LLM.
//!
//! - [`answer`]: numbered sources for a question, program-checked citations,
//!   abstention and extractive answers.
//! - [`classify`]: zero-shot and supervised document classification, with metrics.
//! - [`summarize`]: extractive summaries with byte offsets, and ROUGE.
//! - [`text`]: sentences, words and ROUGE tokens shared by both.

pub mod answer;
pub mod classify;
pub mod error;
pub mod summarize;
pub mod text;

pub use error::{Error, Result};
