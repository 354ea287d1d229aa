//! A small W3C WebDriver client for the browser tests: starts `chromedriver` on an ephemeral
//! port and drives a headless Chromium through the protocol's JSON over HTTP (new session,
//! navigate, find element, type, click, run a script, screenshot). A handful of commands is all
//! the console test needs, so it speaks them directly rather than pulling in a client crate.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout, Instant};

/// Longest wait for chromedriver to start or answer one command.
const COMMAND_WAIT: Duration = Duration::from_secs(60);

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver with one headless browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    /// Starts chromedriver (from `CHROMEDRIVER` or the PATH) and a headless Chromium session
    /// (binary from `CHROMIUM` or `/usr/bin/chromium`). Panics with what to install when either
    /// is missing.
    pub async fn start() -> Browser {
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut driver = Command::new(&program)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {program}: {e}; install Chromium and its driver \
                     (Debian: apt-get install -y chromium chromium-driver) or set CHROMEDRIVER"
                )
            });
        let stdout = driver
            .stdout
            .take()
            .expect("chromedriver's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let port = timeout(COMMAND_WAIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                // "ChromeDriver was started successfully on port 40183."
                if let Some(rest) = line.split("on port ").nth(1) {
                    if line.contains("started successfully") {
                        return rest.trim_end_matches('.').trim().parse::<u16>().ok();
                    }
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("chromedriver did not say which port it listens on");
        // Keep reading its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"],
            },
        }}});
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
        };
        let created = browser
            .command("POST", "/session", Some(capabilities))
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        browser
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its
    /// result.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Polls `script` until it returns `true`; panics with `what` after `wait`.
    pub async fn wait_until(&self, what: &str, script: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            if self.run(script, json!([])).await == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element matching the CSS `selector`.
    pub async fn find(&self, selector: &str) -> String {
        let found = self
            .session_command(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {found}"))
            .to_string()
    }

    /// Types `text` into `element` as a user would.
    pub async fn type_into(&self, element: &str, text: &str) {
        self.session_command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks `element`.
    pub async fn click(&self, element: &str) {
        self.session_command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.session_command("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("the screenshot is base64 text"))
            .expect("the screenshot is valid base64")
    }

    /// Ends the session (the browser exits) and chromedriver.
    pub async fn quit(self) {
        let path = format!("/session/{}", self.session);
        self.command("DELETE", &path, None).await;
        // Drop ends chromedriver.
    }

    async fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    /// One WebDriver command: its `value`, or a panic with the driver's error.
    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        let exchange = async {
            let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
            let mut stream = BufReader::new(stream);
            stream.get_mut().write_all(request.as_bytes()).await?;
            // chromedriver keeps the connection open whatever `Connection` says: read the
            // head, then exactly Content-Length bytes.
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if stream.read_line(&mut line).await? == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>((head, body))
        };
        let (head, body) = timeout(COMMAND_WAIT, exchange)
            .await
            .unwrap_or_else(|_| panic!("chromedriver did not answer {method} {path}"))
            .unwrap_or_else(|e| panic!("{method} {path} to chromedriver failed: {e}"));
        let body = body.as_slice();
        let answer: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: not JSON ({e}): {head}\n{}",
                String::from_utf8_lossy(body)
            )
        });
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "{method} {path} failed: {head}\n{answer}"
        );
        answer["value"].clone()
    }
}

impl Drop for Browser {
    /// Ends the browser even when the test failed: chromedriver killed with its session still
    /// open would leave Chromium running. A blocking DELETE (the runtime may be unwinding), then
    /// the driver is killed.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
                self.session, self.port
            );
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                if stream.write_all(request.as_bytes()).is_ok() {
                    // Wait for the start of the answer: the browser is gone by then.
                    let _ = stream.read(&mut [0u8; 64]);
                }
            }
        }
        let _ = self.driver.start_kill();
    }
}
