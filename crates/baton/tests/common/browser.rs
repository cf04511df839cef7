//! A real browser for the tests: Debian's headless `chromium` driven through `chromedriver`
//! (WebDriver: JSON over HTTP on loopback), both killed when the `Browser` is dropped.
//!
//! When either program is missing the test fails and says what to install, unless
//! `BATON_SKIP_BROWSER=1` is set: then `Browser::start` returns `None` and the test skips.

use std::net::TcpListener;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;
use serde_json::json;

/// The flags Chromium runs with: headless, and nothing that reaches for the internet.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,800",
];

/// A WebDriver session in headless Chromium.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: ureq::Agent,
    profile: tempfile::TempDir,
}

/// Finds a program on PATH.
pub fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a Chromium session with a fresh
    /// profile. Panics (naming the packages) when a program is missing, unless
    /// `BATON_SKIP_BROWSER=1`, which makes it return `None`.
    pub fn start() -> Option<Browser> {
        let chromium = which(&["chromium", "chromium-browser"]);
        let driver = which(&["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            if std::env::var("BATON_SKIP_BROWSER").as_deref() == Ok("1") {
                eprintln!("SKIP: chromium or chromedriver not found (BATON_SKIP_BROWSER=1)");
                return None;
            }
            panic!(
                "the browser tests need `chromium` and `chromedriver` on PATH (Debian: \
                 apt-get install chromium chromium-driver; .ci/run installs them); \
                 set BATON_SKIP_BROWSER=1 to skip these tests"
            );
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .proxy(None)
            .build()
            .into();
        let profile = tempfile::Builder::new()
            .prefix("baton-chromium-")
            .tempdir()
            .unwrap();
        let mut b = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http,
            profile,
        };
        // chromedriver answers /status once it listens.
        let start = Instant::now();
        loop {
            let ready = b
                .http
                .get(format!("{}/status", b.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", b.profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.to_str().unwrap(), "args": args},
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        Some(b)
    }

    /// One WebDriver command; returns its `value`, panics on an error answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.try_call(method, path, body);
        assert!(
            status < 400,
            "WebDriver {method} {path} → {status}: {}",
            v["message"].as_str().unwrap_or(&v.to_string())
        );
        v
    }

    /// One WebDriver command; returns the HTTP status and the answer's `value`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = if path.starts_with("/session/") || path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let answer = match method {
            "GET" => self.http.get(&url).call(),
            "DELETE" => self.http.delete(&url).call(),
            _ => self
                .http
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut r = answer.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v["value"].clone())
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// Reloads the page (the browser's reload: the tab and its sessionStorage stay).
    pub fn reload(&self) {
        self.call("POST", "/refresh", None);
    }

    /// Sets the viewport: `mobile` emulates a phone (narrow layout, touch-size widths).
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
                }}),
            ),
        );
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The element matching `css`, if any (its WebDriver reference).
    pub fn find(&self, css: &str) -> Option<Value> {
        let (status, v) = self.try_call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        (status < 400).then_some(v)
    }

    /// Waits up to `secs` for an element matching `css`.
    #[track_caller]
    pub fn wait_find(&self, css: &str, secs: u64) -> Value {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no element `{css}` after {secs} s; the page shows:\n{}",
                self.body_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element_id(e: &Value) -> String {
        e.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    /// Clicks an element (as a user would: scrolled into view, at its centre).
    pub fn click(&self, e: &Value) {
        self.call(
            "POST",
            &format!("/element/{}/click", Browser::element_id(e)),
            None,
        );
    }

    /// Clicks the element matching `css`, waiting up to `secs` for it; a live page may
    /// redraw it between finding and clicking, so a stale element is found again.
    #[track_caller]
    pub fn click_on(&self, css: &str, secs: u64) {
        let start = Instant::now();
        loop {
            let e = self.wait_find(css, secs);
            let (status, v) = self.try_call(
                "POST",
                &format!("/element/{}/click", Browser::element_id(&e)),
                None,
            );
            if status < 400 {
                return;
            }
            assert!(
                v["error"] == "stale element reference"
                    && start.elapsed() < Duration::from_secs(secs),
                "cannot click `{css}`: {}",
                v["message"].as_str().unwrap_or(&v.to_string())
            );
        }
    }

    /// Types `text` into an element.
    pub fn type_into(&self, e: &Value, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", Browser::element_id(e)),
            Some(json!({"text": text})),
        );
    }

    /// Types `text` with the keyboard into whatever has the focus (WebDriver key actions: no
    /// element reference, so a live page may redraw the focused element meanwhile).
    pub fn press(&self, text: &str) {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({"type": "keyDown", "value": c}),
                    json!({"type": "keyUp", "value": c}),
                ]
            })
            .collect();
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})),
        );
        self.call("DELETE", "/actions", None);
    }

    /// The text of the element matching `css` ("" when there is none).
    pub fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// The page's whole visible text, then the requests it completed (for a failure's
    /// message).
    pub fn body_text(&self) -> String {
        let requests = self.js(
            "return performance.getEntriesByType('resource')\
               .map(e => e.name + ' ' + (e.responseStatus || '') + ' ' + Math.round(e.duration) + ' ms')\
               .join('\\n');",
            json!([]),
        );
        format!(
            "{}\n--- requests completed:\n{}",
            self.text("body"),
            requests.as_str().unwrap_or("")
        )
    }

    /// Waits up to `secs` until the text of `css` satisfies `cond`; returns it, or panics
    /// with `what` and the page's text.
    #[track_caller]
    pub fn wait_text(
        &self,
        css: &str,
        secs: u64,
        what: &str,
        cond: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let t = self.text(css);
            if cond(&t) {
                return t;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out after {secs} s waiting for {what}; `{css}` shows {t:?}; the page:\n{}",
                self.body_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self.call("GET", "/screenshot", None);
        let png = decode_base64(v.as_str().expect("a base64 screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session quits Chromium; then the driver goes, by its own pid.
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A Chromium left behind (a driver that died first) is found by its profile dir.
        kill_by_profile(self.profile.path());
    }
}

/// Kills, by pid, every process whose command line names this (unique) profile directory.
fn kill_by_profile(profile: &Path) {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == needle.as_bytes())
        {
            let _ = Command::new("kill").args(["-9", pid]).output();
        }
    }
}

/// Decodes standard base64 (what WebDriver's screenshot returns); whitespace is skipped.
pub fn decode_base64(text: &str) -> Vec<u8> {
    fn sextet(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    }
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= sextet(*c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
