//! Optical character recognition of page images through Tesseract, for scanned PDF
//! pages, PDF pages set in fonts without a Unicode mapping, and image files.
//!
//! Tesseract runs as a subprocess (`tesseract`, and poppler's `pdftoppm` to rasterize
//! PDF pages), found at run time: a build needs no C toolchain or libtesseract, a
//! machine without Tesseract still ingests everything else (pages that needed OCR get a
//! warning naming the package to install), and a process stuck on a hostile image can
//! be killed at the document's deadline without taking docket down. The price is a
//! process start per page (tens of milliseconds against the seconds OCR takes).
//!
//! - Orientation: Tesseract runs with automatic page segmentation and orientation and
//!   script detection (`--psm 1`), so pages scanned upside down or sideways read.
//!   Slanted grey pages are straightened first ([`deskew`]): Tesseract's layout
//!   analysis absorbs a degree or two, and loses whole lines at four or five.
//! - Confidence: each page keeps the mean of Tesseract's word confidences; pages below
//!   [`OcrOptions::low_confidence`] are flagged.
//! - Cache: results are kept under [`OcrOptions::cache_dir`] by the blake3 of the image
//!   bytes, the languages and the settings, so a page is never recognised twice.
//! - Concurrency: at most [`OcrOptions::jobs`] Tesseract processes run at once in the
//!   whole process (each limited to one thread), however many documents are parsed in
//!   parallel; the images they read are bounded by [`OcrOptions::max_pixels`].

pub mod deskew;
pub mod eval;
pub mod image;
mod process;
mod tsv;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::DocError;
use crate::loader::Deadline;

pub use image::{ImageKind, PageImage, pgm, tiff_ccitt, tiff_pages};
pub use tsv::OcrText;

/// The Debian package that provides the `tesseract` program, named in warnings.
pub const TESSERACT_PACKAGE: &str = "tesseract-ocr";

/// The Debian package that provides `pdftoppm`, named in warnings.
pub const PDFTOPPM_PACKAGE: &str = "poppler-utils";

/// Bumped when what is cached (or how it is computed) changes.
const CACHE_VERSION: &str = "ocr-1";

/// When pages are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    /// Pages without a text layer, pages whose fonts have no Unicode mapping, and image
    /// files.
    #[default]
    Auto,
    /// Every page, replacing the text layer (for PDFs whose text layer is wrong).
    Always,
    /// None: scanned pages stay empty, with a warning.
    Never,
}

impl OcrMode {
    pub fn name(self) -> &'static str {
        match self {
            OcrMode::Auto => "auto",
            OcrMode::Always => "always",
            OcrMode::Never => "never",
        }
    }
}

impl std::str::FromStr for OcrMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(OcrMode::Auto),
            "always" => Ok(OcrMode::Always),
            "never" => Ok(OcrMode::Never),
            other => Err(format!("`{other}` is not auto, always or never")),
        }
    }
}

/// How pages are recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcrOptions {
    #[serde(default = "OcrOptions::default_mode")]
    pub mode: OcrMode,
    /// Tesseract languages joined by `+` (`eng+rus`); `None`: English if its language
    /// pack is installed, else the first one that is.
    pub languages: Option<String>,
    /// The Tesseract program (default: `tesseract` on the `PATH`).
    pub tesseract: Option<PathBuf>,
    /// The program that rasterizes PDF pages (default: `pdftoppm` on the `PATH`).
    pub pdftoppm: Option<PathBuf>,
    /// Where results are cached by image hash; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Resolution PDF pages are rasterized at.
    #[serde(default = "OcrOptions::default_dpi")]
    pub dpi: u32,
    /// Largest image handed to Tesseract, in pixels: larger pages are rasterized at a
    /// lower resolution, which bounds the memory of both processes.
    #[serde(default = "OcrOptions::default_max_pixels")]
    pub max_pixels: u64,
    /// Most Tesseract processes at once; 0: one per CPU core.
    #[serde(default)]
    pub jobs: usize,
    /// Pages whose mean word confidence (0 to 100) is below this are flagged.
    #[serde(default = "OcrOptions::default_low_confidence")]
    pub low_confidence: u8,
}

impl OcrOptions {
    pub fn default_mode() -> OcrMode {
        OcrMode::Auto
    }
    pub fn default_dpi() -> u32 {
        300
    }
    /// 40 Mpixel: an A4 page at 300 dpi is 8.7 Mpixel, so only posters and huge scans
    /// are scaled down.
    pub fn default_max_pixels() -> u64 {
        40_000_000
    }
    pub fn default_low_confidence() -> u8 {
        60
    }
}

impl Default for OcrOptions {
    fn default() -> Self {
        OcrOptions {
            mode: Self::default_mode(),
            languages: None,
            tesseract: None,
            pdftoppm: None,
            cache_dir: None,
            dpi: Self::default_dpi(),
            max_pixels: Self::default_max_pixels(),
            jobs: 0,
            low_confidence: Self::default_low_confidence(),
        }
    }
}

/// What Tesseract made of one page (or of each page of a multi-page TIFF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrPage {
    pub text: String,
    /// Mean word confidence, 0 to 100; `None` when no word was found.
    pub confidence: Option<f32>,
    pub words: usize,
}

/// The outcome of recognising one image: its pages, or why it could not be done (a
/// warning for the document; the document itself goes on).
pub type PageResult = Result<Vec<OcrPage>, String>;

/// The Tesseract found on this machine.
#[derive(Debug, Clone)]
struct Engine {
    program: PathBuf,
    version: String,
    languages: String,
    /// `osd` is installed: pages are turned upright before recognition.
    osd: bool,
}

/// A counting semaphore: the number of OCR processes running at once.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Called after each page is recognised: pages done and pages to do in the document.
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// The OCR engine of an ingest run: options, the Tesseract found (looked for once, on
/// first use), the process-wide bound on running processes, and the cache.
pub struct Ocr {
    options: OcrOptions,
    engine: OnceLock<Result<Engine, String>>,
    permits: Permits,
    jobs: usize,
    progress: Option<Progress>,
}

impl std::fmt::Debug for Ocr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ocr")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Ocr {
    pub fn new(options: OcrOptions) -> Self {
        let jobs = match options.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Ocr {
            options,
            engine: OnceLock::new(),
            permits: Permits {
                free: Mutex::new(jobs),
                freed: Condvar::new(),
            },
            jobs,
            progress: None,
        }
    }

    /// Report each recognised page to `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn options(&self) -> &OcrOptions {
        &self.options
    }

    pub fn mode(&self) -> OcrMode {
        self.options.mode
    }

    /// Most pages of one document recognised at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Whether Tesseract is usable, or the warning that says what to install.
    pub fn check(&self) -> Result<(), String> {
        self.engine().map(|_| ())
    }

    fn engine(&self) -> Result<&Engine, String> {
        self.engine
            .get_or_init(|| find_engine(&self.options))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) fn report(&self, done: usize, total: usize) {
        if let Some(p) = &self.progress {
            p(done, total);
        }
    }

    fn pdftoppm(&self) -> &Path {
        self.options
            .pdftoppm
            .as_deref()
            .unwrap_or(Path::new("pdftoppm"))
    }

    /// Rasterize page `page` (1-based) of the PDF at `pdf` to a grey image at `dpi`.
    /// Outer error: the document must stop (deadline); inner: this page cannot be done.
    pub fn rasterize(
        &self,
        pdf: &Path,
        page: u32,
        dpi: u32,
        deadline: &Deadline,
    ) -> Result<Result<PageImage, String>, DocError> {
        let dir = match tempfile::Builder::new().prefix("docket-ocr").tempdir() {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("cannot make a temporary folder: {e}"))),
        };
        let root = dir.path().join("page");
        let mut cmd = std::process::Command::new(self.pdftoppm());
        cmd.arg("-r")
            .arg(dpi.to_string())
            .arg("-f")
            .arg(page.to_string())
            .arg("-l")
            .arg(page.to_string())
            .arg("-gray")
            .arg("-singlefile")
            .arg(pdf)
            .arg(&root);
        match process::run(cmd, deadline)? {
            Ok(_) => {}
            Err(process::Failure::Missing) => {
                return Ok(Err(format!(
                    "pdftoppm, which renders PDF pages for OCR, is not installed (install the {PDFTOPPM_PACKAGE} package)"
                )));
            }
            Err(process::Failure::Failed(why)) => {
                return Ok(Err(format!("pdftoppm could not render the page: {why}")));
            }
        }
        match std::fs::read(root.with_extension("pgm")) {
            Ok(bytes) => Ok(Ok(PageImage {
                bytes,
                kind: ImageKind::Pnm,
                dpi: Some(dpi),
            })),
            Err(e) => Ok(Err(format!("pdftoppm wrote no image: {e}"))),
        }
    }

    /// Recognise the text of an image (every page of a multi-page TIFF), from the cache
    /// when it was recognised before with the same settings.
    pub fn recognize(
        &self,
        image: &PageImage,
        deadline: &Deadline,
    ) -> Result<PageResult, DocError> {
        let engine = match self.engine() {
            Ok(e) => e,
            Err(why) => return Ok(Err(why)),
        };
        let key = self.cache_key(engine, image);
        if let Some(hit) = self.cache_get(&key) {
            return Ok(Ok(hit));
        }
        let dir = match tempfile::Builder::new().prefix("docket-ocr").tempdir() {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("cannot make a temporary folder: {e}"))),
        };
        // Straightened pages are cached under the image as it came.
        let level = deskew::deskew(image);
        let image = level.as_ref().map_or(image, |(level, _)| level);
        let input = dir.path().join(format!("page.{}", image.kind.extension()));
        if let Err(e) = std::fs::write(&input, &image.bytes) {
            return Ok(Err(format!("cannot write the page image: {e}")));
        }
        let out = {
            let _permit = self.permits.acquire();
            deadline.check()?;
            let mut cmd = std::process::Command::new(&engine.program);
            cmd.arg(&input)
                .arg("stdout")
                .arg("-l")
                .arg(&engine.languages)
                .arg("--psm")
                .arg(if engine.osd { "1" } else { "3" });
            // No `--dpi`, even when the resolution is known: told it, Tesseract 5.3
            // split large type into columns and lost lines on slanted pages that it
            // read whole when left to estimate the resolution itself.
            cmd.arg("tsv");
            // One thread per process: parallelism comes from running several pages.
            cmd.env("OMP_THREAD_LIMIT", "1");
            process::run(cmd, deadline)?
        };
        let stdout = match out {
            Ok(stdout) => stdout,
            Err(process::Failure::Missing) => return Ok(Err(missing_tesseract())),
            Err(process::Failure::Failed(why)) => {
                return Ok(Err(format!("tesseract failed: {why}")));
            }
        };
        let pages = tsv::parse(&String::from_utf8_lossy(&stdout))
            .into_iter()
            .map(|p| OcrPage {
                text: crate::normalize::normalize_text(&p.text),
                confidence: p.confidence,
                words: p.words,
            })
            .collect::<Vec<_>>();
        self.cache_put(&key, &pages);
        Ok(Ok(pages))
    }

    fn cache_key(&self, engine: &Engine, image: &PageImage) -> String {
        let mut h = blake3::Hasher::new();
        h.update(CACHE_VERSION.as_bytes());
        h.update(b"\0");
        h.update(engine.version.as_bytes());
        h.update(b"\0");
        h.update(engine.languages.as_bytes());
        h.update(format!("\0{}\0{:?}\0", engine.osd, image.dpi).as_bytes());
        h.update(&image.bytes);
        h.finalize().to_hex().to_string()
    }

    fn cache_path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.options.cache_dir.as_ref()?;
        Some(dir.join(&key[..2]).join(format!("{key}.json")))
    }

    fn cache_get(&self, key: &str) -> Option<Vec<OcrPage>> {
        let bytes = std::fs::read(self.cache_path(key)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Best effort: a cache that cannot be written costs time on the next run, nothing
    /// else.
    fn cache_put(&self, key: &str, pages: &[OcrPage]) {
        let Some(path) = self.cache_path(key) else {
            return;
        };
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(json) = serde_json::to_vec(pages) else {
            return;
        };
        if let Ok(mut tmp) = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir) {
            use std::io::Write;
            if tmp.write_all(&json).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }
}

fn missing_tesseract() -> String {
    format!("OCR needs Tesseract, which is not installed (install the {TESSERACT_PACKAGE} package)")
}

/// Find Tesseract and its language packs, and settle the languages to use.
fn find_engine(options: &OcrOptions) -> Result<Engine, String> {
    let program = options
        .tesseract
        .clone()
        .unwrap_or_else(|| PathBuf::from("tesseract"));
    let out = std::process::Command::new(&program)
        .arg("--list-langs")
        .stdin(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return Err(format!(
                "{} --list-langs failed: {}",
                program.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(_) => return Err(missing_tesseract()),
    };
    let installed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("List of available languages"))
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let osd = installed.iter().any(|l| l == "osd");
    let languages = match &options.languages {
        Some(wanted) => {
            let missing: Vec<&str> = wanted
                .split('+')
                .filter(|l| !l.is_empty() && !installed.iter().any(|i| i == l))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the Tesseract language pack(s) {} are not installed (install {})",
                    missing.join(", "),
                    missing
                        .iter()
                        .map(|l| format!("tesseract-ocr-{}", l.replace('_', "-").to_lowercase()))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            wanted.clone()
        }
        None if installed.iter().any(|l| l == "eng") => "eng".to_string(),
        None => match installed.iter().find(|l| *l != "osd") {
            Some(first) => first.clone(),
            None => {
                return Err(format!(
                    "Tesseract has no language pack installed (install {TESSERACT_PACKAGE}-eng)"
                ));
            }
        },
    };
    let version = std::process::Command::new(&program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let all = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&all)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default();
    Ok(Engine {
        program,
        version,
        languages,
        osd,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::loader::{Limits, LoadContext, Loader};

    /// A stand-in for Tesseract: lists English, and recognises every image as `body`
    /// (a shell snippet).
    fn fake_tesseract(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("tesseract");
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in\n--list-langs) printf 'List of available languages in \"/x/\" (2):\\neng\\nosd\\n'; exit 0;;\n--version) echo 'tesseract 0-fake'; exit 0;;\nesac\n{body}\n"
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\0\0\0\0";

    fn ocr(tesseract: PathBuf, cache: Option<PathBuf>) -> Ocr {
        Ocr::new(OcrOptions {
            tesseract: Some(tesseract),
            cache_dir: cache,
            ..OcrOptions::default()
        })
    }

    #[test]
    fn a_page_read_with_low_confidence_is_flagged_in_the_page_and_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let tesseract = fake_tesseract(
            dir.path(),
            "printf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext\\n5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t1\\t1\\t35\\tblurry\\n5\\t1\\t1\\t1\\t1\\t2\\t0\\t0\\t1\\t1\\t45\\twords\\n'",
        );
        let engine = ocr(tesseract, None);
        let limits = Limits::default();
        let mut ctx = LoadContext::new(&limits);
        ctx.ocr = Some(&engine);
        let ex = crate::image::ImageLoader.load(PNG, &ctx).unwrap();
        assert_eq!(ex.text, "blurry words");
        let page = ex.pages[0].ocr.expect("OCR recorded on the page");
        assert_eq!(page.confidence, 40);
        assert!(page.low_confidence);
        assert_eq!(ex.metadata["ocr_low_confidence_pages"], "1");
        assert!(
            ex.warnings[0].contains("confidence is low"),
            "{:?}",
            ex.warnings
        );
    }

    #[test]
    fn a_tesseract_past_the_deadline_is_killed_and_the_document_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ocr(fake_tesseract(dir.path(), "sleep 30"), None);
        let limits = Limits {
            parse_timeout_secs: 1,
            ..Limits::default()
        };
        let mut ctx = LoadContext::new(&limits);
        ctx.ocr = Some(&engine);
        let started = std::time::Instant::now();
        let e = crate::image::ImageLoader.load(PNG, &ctx).unwrap_err();
        assert_eq!(e, DocError::Timeout { secs: 1 });
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_failing_or_missing_tesseract_is_a_warning_naming_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let missing = ocr(dir.path().join("absent"), None);
        let mut ctx = LoadContext::new(&limits);
        ctx.ocr = Some(&missing);
        let ex = crate::image::ImageLoader.load(PNG, &ctx).unwrap();
        assert_eq!(ex.text, "");
        assert!(
            ex.warnings[0].contains("install the tesseract-ocr package"),
            "{:?}",
            ex.warnings
        );
        let failing = ocr(
            fake_tesseract(dir.path(), "echo 'bad image' >&2; exit 1"),
            None,
        );
        ctx.ocr = Some(&failing);
        let ex = crate::image::ImageLoader.load(PNG, &ctx).unwrap();
        assert!(ex.warnings[0].contains("bad image"), "{:?}", ex.warnings);
        let wrong_lang = Ocr::new(OcrOptions {
            tesseract: Some(fake_tesseract(dir.path(), "exit 1")),
            languages: Some("eng+fra".into()),
            ..OcrOptions::default()
        });
        assert_eq!(
            wrong_lang.check().unwrap_err(),
            "the Tesseract language pack(s) fra are not installed (install tesseract-ocr-fra)"
        );
    }

    #[test]
    fn results_are_cached_by_image_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let counter = dir.path().join("calls");
        let body = format!(
            "echo x >> '{}'\nprintf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext\\n5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t1\\t1\\t90\\tcached\\n'",
            counter.display()
        );
        let engine = ocr(fake_tesseract(dir.path(), &body), Some(cache));
        let image = |bytes: &[u8]| PageImage {
            bytes: bytes.to_vec(),
            kind: ImageKind::Png,
            dpi: Some(300),
        };
        let d = Deadline::none();
        let calls = || std::fs::read_to_string(&counter).map_or(0, |s| s.lines().count());
        let first = engine.recognize(&image(PNG), &d).unwrap().unwrap();
        assert_eq!(first[0].text, "cached");
        assert_eq!(engine.recognize(&image(PNG), &d).unwrap().unwrap(), first);
        assert_eq!(calls(), 1);
        let mut other = PNG.to_vec();
        other.push(0);
        engine.recognize(&image(&other), &d).unwrap().unwrap();
        assert_eq!(calls(), 2);
    }
}
