//! The generate stage of docket: retrieves context from the index and classifies,
//! summarizes or answers with an LLM. Built in the generate issue; this crate exists now
//! so the workspace has the shape the architecture describes.

pub mod answer;
