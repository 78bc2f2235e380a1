//! The web page of `docket serve` in a real browser: Debian's Chromium, headless,
//! driven over WebDriver (chromedriver) with plain HTTP calls. Skipped, loudly, when
//! chromium or chromedriver is not installed (CI installs both).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::serve::{Server, archive_job, call, client};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process and one browser session, both ended when dropped.
struct Browser {
    driver: Child,
    base: String,
    http: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = client();
        let until = Instant::now() + Duration::from_secs(30);
        let url = format!("http://127.0.0.1:{port}");
        while http
            .get(&format!("{url}/status"))
            .call()
            .map_or(true, |r| r.status().as_u16() != 200)
        {
            assert!(Instant::now() < until, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        // The flags a machine without network needs (no background connections).
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1100,1400".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let (status, text) = call(
            &http,
            "POST",
            &format!("{url}/session"),
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args}
            }}})),
            &[],
        );
        assert_eq!(status, 200, "new session: {text}");
        let session: Value = serde_json::from_str(&text).unwrap();
        let id = session["value"]["sessionId"].as_str().unwrap().to_owned();
        Browser {
            driver,
            base: format!("{url}/session/{id}"),
            http,
            _profile: profile,
        }
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let (status, text) = call(
            &self.http,
            "POST",
            &format!("{}{path}", self.base),
            Some(&body),
            &[],
        );
        assert_eq!(status, 200, "POST {path}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["value"].take()
    }

    fn get(&self, path: &str) -> Value {
        let (status, text) = call(
            &self.http,
            "GET",
            &format!("{}{path}", self.base),
            None,
            &[],
        );
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["value"].take()
    }

    fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}));
    }

    fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
    }

    fn find(&self, css: &str) -> String {
        let v = self.post("/element", json!({"using": "css selector", "value": css}));
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn count(&self, css: &str) -> usize {
        self.post("/elements", json!({"using": "css selector", "value": css}))
            .as_array()
            .map_or(0, Vec::len)
    }

    fn wait_for(&self, css: &str, timeout: Duration) {
        let until = Instant::now() + timeout;
        while self.count(css) == 0 {
            assert!(
                Instant::now() < until,
                "{css} did not appear; page text: {}",
                self.script("return document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.post(&format!("/element/{id}/clear"), json!({}));
        self.post(&format!("/element/{id}/value"), json!({"text": text}));
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.post(&format!("/element/{id}/click"), json!({}));
    }

    fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_page_streams_an_answer_opens_the_cited_passage_and_filters_a_search() {
    let (Some(chromium), Some(chromedriver)) = (
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
        find_program(&["chromedriver"]),
    ) else {
        // Past the harness's capture, so the skip shows in every run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED browser test: it needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver); .ci/run installs them"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let job = archive_job(dir.path());
    let server = Server::start(&[job.to_str().unwrap()], &[]);
    let browser = Browser::start(&chromium, &chromedriver);
    browser.goto(&server.url("/"));
    // The documents list fills in on load.
    browser.wait_for("#documents tbody tr", Duration::from_secs(30));

    // Ask; the answer arrives over the event stream with its citations.
    let question = "How many days can staff work from home?";
    browser.type_into("#question", question);
    browser.click("#ask");
    browser.wait_for("#answer .cite", Duration::from_secs(120));
    let answer = browser.script("return document.getElementById('answer-text').textContent");
    assert!(answer.as_str().unwrap().contains("three days"), "{answer}");

    // Click the first citation: the passage opens with the cited span highlighted,
    // and the highlighted text is exactly the span the answer cites.
    browser.click("#answer .cite");
    browser.wait_for("#passage-mark", Duration::from_secs(30));
    let marked = browser.script("return document.getElementById('passage-mark').textContent");
    let cited = browser.script("return document.querySelector('#answer .cite').dataset.text");
    assert_eq!(marked, cited);
    // ... and it is the span the API's answer cites.
    let (_, text) = call(
        &client(),
        "POST",
        &server.url("/v1/ask"),
        Some(&json!({"question": question})),
        &[],
    );
    let api: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(marked, api["claims"][0]["support"]["text"]);
    let meta = browser.script("return document.getElementById('passage-meta').textContent");
    assert!(
        meta.as_str()
            .unwrap()
            .starts_with("policies/remote-work.md, page 1"),
        "{meta}"
    );

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let answer_png = shots.join("serve-page-answer.png");
    browser.screenshot(&answer_png);

    // A filtered search: every hit is under the glob.
    browser.type_into("#search-q", "approval");
    browser.type_into("#search-source", "policies/**");
    browser.click("#search-btn");
    browser.wait_for("#results li.hit", Duration::from_secs(30));
    let sources = browser.script(
        "return Array.from(document.querySelectorAll('#results li.hit > button')).map(b => b.textContent)",
    );
    let sources = sources.as_array().unwrap();
    assert!(!sources.is_empty());
    for s in sources {
        assert!(s.as_str().unwrap().starts_with("policies/"), "{s}");
    }
    browser.script("document.getElementById('search-section').scrollIntoView()");
    let search_png = shots.join("serve-page-search.png");
    browser.screenshot(&search_png);
    let _ = writeln!(
        std::io::stderr(),
        "browser test screenshots: {} {}",
        answer_png.display(),
        search_png.display()
    );
    assert!(std::fs::metadata(&answer_png).unwrap().len() > 10_000);
}
