//! Finding the files to ingest: walks folders recursively in a stable order, honours
//! `.gitignore`-style ignore files (`.gitignore`, `.ignore`, `.docketignore`, also
//! outside git repositories) and `--include`/`--exclude` globs, and gives every file the
//! path relative to its root that document ids are derived from.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::document::Format;
use crate::error::{Error, Result};

/// Which files a walk yields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalkOptions {
    /// Globs a file's path (relative to its root) must match, if any are given.
    pub include: Vec<String>,
    /// Globs that exclude a file; they win over `include`.
    pub exclude: Vec<String>,
    /// Also walk hidden files and folders (names starting with a dot).
    pub hidden: bool,
    /// Do not honour ignore files.
    pub no_ignore: bool,
    /// Follow symbolic links whose target stays inside the walked folder (as ripgrep's
    /// `-L`); links pointing elsewhere are never followed. Off: links are listed in
    /// [`Walk::links`] and not read.
    pub follow: bool,
}

/// One file found by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Path relative to the root it was found under, `/`-separated; for a file given
    /// directly, its file name. Document ids derive from this, so they survive moving
    /// the whole archive to another folder or machine.
    pub source: String,
    /// The format its name suggests, if any.
    pub format: Option<Format>,
    /// True when the user named this file directly (not found by walking a folder).
    pub explicit: bool,
}

impl SourceFile {
    /// A file the user named directly; its source is its file name.
    pub fn explicit(path: &Path) -> SourceFile {
        SourceFile {
            path: path.to_path_buf(),
            source: path
                .file_name()
                .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
                .into_owned(),
            format: format_of(path),
            explicit: true,
        }
    }
}

/// The files under `roots`, in a stable order: each root in turn, files sorted by path.
/// Files in walked folders whose extension no loader knows are left out (they are
/// counted as skipped by the caller through [`Walk::skipped`]); files named directly
/// are always yielded.
pub fn walk(roots: &[PathBuf], options: &WalkOptions) -> Result<Walk> {
    let include = globs(&options.include, "include")?;
    let exclude = globs(&options.exclude, "exclude")?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let (mut links, mut special) = (Vec::new(), Vec::new());
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| Error::Walk {
            path: root.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_file() {
            files.push(SourceFile::explicit(root));
            continue;
        }
        // Links are judged against where the root really is.
        let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        let walker = ignore::WalkBuilder::new(root)
            .follow_links(options.follow)
            .hidden(!options.hidden)
            .git_ignore(!options.no_ignore)
            .git_global(false)
            .git_exclude(!options.no_ignore)
            .ignore(!options.no_ignore)
            .parents(!options.no_ignore)
            .require_git(false)
            .add_custom_ignore_filename(".docketignore")
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(Error::Walk {
                        path: root.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let Some(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                // Not followed (following is off, or the walker refused it).
                links.push(entry.into_path());
                continue;
            }
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                special.push(entry.into_path());
                continue;
            }
            let walked = entry.into_path();
            // With `follow`, read the link's target (files are opened without following
            // links), but only one inside the root.
            let path = match options.follow {
                false => walked.clone(),
                true => match std::fs::canonicalize(&walked) {
                    Ok(real) if real.starts_with(&real_root) => real,
                    _ => {
                        links.push(walked);
                        continue;
                    }
                },
            };
            let rel = relative(&walked, root);
            if !include.as_ref().is_none_or(|g| g.is_match(&rel))
                || exclude.as_ref().is_some_and(|g| g.is_match(&rel))
            {
                continue;
            }
            match format_of(&walked) {
                Some(format) => files.push(SourceFile {
                    path,
                    source: rel,
                    format: Some(format),
                    explicit: false,
                }),
                None => skipped.push(walked),
            }
        }
    }
    Ok(Walk {
        files,
        errors,
        skipped,
        links,
        special,
    })
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<SourceFile>,
    /// Folders or entries that could not be read; the walk went on without them.
    pub errors: Vec<Error>,
    /// Files left out because no loader knows their extension.
    pub skipped: Vec<PathBuf>,
    /// Symbolic links not followed: following is off, or (with
    /// [`WalkOptions::follow`]) their target lies outside the walked folder.
    pub links: Vec<PathBuf>,
    /// Entries that are neither files nor folders (FIFOs, sockets, devices): never
    /// opened, since reading one can block forever.
    pub special: Vec<PathBuf>,
}

/// The format a file's extension suggests.
pub fn format_of(path: &Path) -> Option<Format> {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(Format::from_extension)
}

fn relative(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn globs(patterns: &[String], name: &'static str) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| Error::Config {
            name,
            reason: format!("bad glob {p:?}: {e}"),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| Error::Config {
        name,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }

    #[test]
    fn walks_sorted_honours_ignores_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "b.md",
            "a/z.txt",
            "a/y.pdf",
            "c.bin",
            "skip/x.md",
            ".hidden/h.md",
            "a/k.log",
        ] {
            touch(d, f);
        }
        std::fs::write(d.join(".gitignore"), "skip/\n*.log\n").unwrap();

        let w = walk(&[d.to_path_buf()], &WalkOptions::default()).unwrap();
        let got: Vec<&str> = w.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(got, ["a/y.pdf", "a/z.txt", "b.md"]);
        assert_eq!(w.skipped.len(), 1, "c.bin is skipped: {:?}", w.skipped);

        let opts = WalkOptions {
            include: vec!["*.md".into(), "*.txt".into()],
            exclude: vec!["a/**".into()],
            ..Default::default()
        };
        let w = walk(&[d.to_path_buf()], &opts).unwrap();
        let got: Vec<&str> = w.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(got, ["b.md"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_listed_not_read_and_followed_only_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let d = dir.path().join("root");
        touch(&d, "real/a.md");
        touch(outside.path(), "secret.md");
        std::os::unix::fs::symlink(d.join("real/a.md"), d.join("inside.md")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.md"), d.join("out.md")).unwrap();
        let fifo = d.join("pipe.md");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let w = walk(std::slice::from_ref(&d), &WalkOptions::default()).unwrap();
        let got: Vec<&str> = w.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(got, ["real/a.md"]);
        assert_eq!(w.links.len(), 2, "{:?}", w.links);
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(w.special, std::slice::from_ref(&fifo));
        }
        let follow = WalkOptions {
            follow: true,
            ..Default::default()
        };
        let w = walk(std::slice::from_ref(&d), &follow).unwrap();
        let got: Vec<&str> = w.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(
            got,
            ["inside.md", "real/a.md"],
            "the link out of the root is not read"
        );
        assert!(
            w.links.iter().any(|l| l.ends_with("out.md")),
            "{:?}",
            w.links
        );
    }

    #[test]
    fn explicit_files_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "notes/readme");
        let f = dir.path().join("notes/readme");
        let w = walk(std::slice::from_ref(&f), &WalkOptions::default()).unwrap();
        assert_eq!(w.files[0].source, "readme");
        assert!(w.files[0].explicit);
        assert_eq!(w.files[0].format, None);

        let missing = dir.path().join("nope");
        let err = walk(&[missing], &WalkOptions::default()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
