//! Integration tests: they run the real `docket` binary on real files.
