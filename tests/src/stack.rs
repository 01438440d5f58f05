//! Starting (or finding) the local stack, once per test binary.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The running stack every test of this binary talks to.
pub struct Stack {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// `<state-dir>/stack.json`, what `opsctl --stack-file` reads.
    pub stack_file: PathBuf,
    /// The demo partner's credentials kit (JSON).
    pub kit_path: PathBuf,
    /// The Cargo workspace root.
    pub workspace: PathBuf,
    /// Where `cargo build --workspace --bins` put the binaries (`<target>/debug`).
    pub bin_dir: PathBuf,
    /// Keeps the devstack process and its stdin open for as long as this process lives;
    /// when the test binary exits, stdin closes and `--exit-on-stdin-close` stops the stack.
    _guard: Option<Guard>,
}

struct Guard {
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

static STACK: OnceLock<Result<Stack, String>> = OnceLock::new();
static FAILURE_REPORTED: AtomicBool = AtomicBool::new(false);

/// The stack, started on first use (blocking). Panics with devstack's output if it cannot start.
pub fn stack() -> &'static Stack {
    match STACK.get_or_init(start) {
        Ok(stack) => stack,
        Err(why) => {
            // Print the long diagnostic once; every other test just says it could not start.
            if FAILURE_REPORTED.swap(true, Ordering::SeqCst) {
                panic!("the local stack could not be started (see the first failing test for why)");
            }
            panic!("{why}");
        }
    }
}

impl Stack {
    /// Path of a workspace binary (`opsctl`, `devstack`, ...).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// `stack.json` parsed.
    pub fn stack_json(&self) -> Value {
        let text = std::fs::read_to_string(&self.stack_file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.stack_file.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text}", self.stack_file.display()))
    }

    /// The demo partner's kit, parsed as JSON.
    pub fn demo_kit_json(&self) -> Value {
        let text = std::fs::read_to_string(&self.kit_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.kit_path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{text}", self.kit_path.display()))
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn target_dir(workspace: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        }
        None => workspace.join("target"),
    }
}

fn start() -> Result<Stack, String> {
    let workspace = workspace_root();
    let target = target_dir(&workspace);
    let bin_dir = target.join("debug");

    if let Ok(base_url) = std::env::var("PARTNER_API_BASE_URL") {
        let stack_file = std::env::var("PARTNER_API_STACK_FILE").map_err(|_| {
            "PARTNER_API_BASE_URL is set, so PARTNER_API_STACK_FILE (path of stack.json) must be set too"
                .to_string()
        })?;
        let kit = std::env::var("PARTNER_API_KIT").map_err(|_| {
            "PARTNER_API_BASE_URL is set, so PARTNER_API_KIT (path of the demo partner's kit JSON) must be set too"
                .to_string()
        })?;
        return Ok(Stack {
            // The stack's root URL; tolerate the API base (`.../api/v1`) too.
            base_url: base_url
                .trim_end_matches('/')
                .trim_end_matches("/api/v1")
                .to_string(),
            stack_file: PathBuf::from(stack_file),
            kit_path: PathBuf::from(kit),
            workspace,
            bin_dir,
            _guard: None,
        });
    }

    launch(workspace, target, bin_dir, &[])
}

impl Stack {
    /// Starts a stack of its own (not the shared one), for tests that break it on purpose.
    /// `None` when the tests run against an external stack (`PARTNER_API_BASE_URL`).
    pub fn start_private() -> Option<Stack> {
        Stack::start_private_with(&[])
    }

    /// A private stack started with extra `devstack up` arguments (e.g. `--dynamodb-faults off`).
    pub fn start_private_with(extra_args: &[&str]) -> Option<Stack> {
        if std::env::var_os("PARTNER_API_BASE_URL").is_some() {
            return None;
        }
        let workspace = workspace_root();
        let target = target_dir(&workspace);
        let bin_dir = target.join("debug");
        // One start-up at a time: several stacks booting their JVMs and emulators together on a
        // 2-core machine miss DynamoDB Local's start-up deadline. The stacks still run side by side.
        static STARTING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        // An emulator that misses its start-up deadline on a loaded machine gets one more try.
        let first = launch(
            workspace.clone(),
            target.clone(),
            bin_dir.clone(),
            extra_args,
        );
        let result = match first {
            Err(why) if why.contains("did not answer") => {
                eprintln!(
                    "private stack did not start, trying once more: {}",
                    why.lines().next().unwrap_or("")
                );
                launch(workspace, target, bin_dir, extra_args)
            }
            other => other,
        };
        match result {
            Ok(stack) => Some(stack),
            Err(why) => panic!("{why}"),
        }
    }

    /// The directory holding `stack.json`, the kit and `logs/`.
    pub fn state_dir(&self) -> PathBuf {
        self.stack_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The devstack process id, when this process started it.
    pub fn devstack_pid(&self) -> Option<u32> {
        self._guard
            .as_ref()
            .map(|g| g._child.lock().unwrap_or_else(|e| e.into_inner()).id())
    }
}

fn launch(
    workspace: PathBuf,
    target: PathBuf,
    bin_dir: PathBuf,
    extra_args: &[&str],
) -> Result<Stack, String> {
    let devstack = bin_dir.join("devstack");
    if !devstack.exists() {
        return Err(format!(
            "{} is missing: build the binaries first with `cargo build --workspace --bins` \
             (scripts/test does it), or point the tests at a running stack with \
             PARTNER_API_BASE_URL, PARTNER_API_STACK_FILE and PARTNER_API_KIT",
            devstack.display()
        ));
    }
    if !bin_dir.join("opsctl").exists() {
        return Err(format!(
            "{} is missing: run `cargo build --workspace --bins` first",
            bin_dir.join("opsctl").display()
        ));
    }

    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let state_root = target.join("blackbox-state");
    prune_old_state(&state_root);
    let state_dir = state_root.join(&run_id);
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| format!("creating {}: {e}", state_dir.display()))?;
    let stderr_path = state_root.join(format!("{run_id}.devstack.stderr.log"));
    let stderr_file = std::fs::File::create(&stderr_path)
        .map_err(|e| format!("creating {}: {e}", stderr_path.display()))?;

    let mut child = Command::new(&devstack)
        .args(["up", "--port", "0", "--state-dir"])
        .arg(&state_dir)
        .arg("--exit-on-stdin-close")
        .args(extra_args)
        .current_dir(&workspace)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file))
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", devstack.display()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");

    // Read stdout on a thread for the whole life of the stack, so devstack never blocks on a
    // full pipe; the lines seen so far are kept for diagnostics.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (tx, rx) = mpsc::channel::<String>();
    {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                seen.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
    }

    let timeout = std::env::var("BLACKBOX_STACK_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(180);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let failure = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break format!("devstack did not print its ready line within {timeout} s");
        }
        match rx.recv_timeout(left) {
            Ok(line) => {
                let Ok(event) = serde_json::from_str::<Value>(line.trim()) else {
                    continue;
                };
                if event.get("event").and_then(Value::as_str) != Some("ready") {
                    continue;
                }
                let field = |name: &str| {
                    event
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("ready line has no string `{name}`: {line}"))
                };
                let parsed = (|| {
                    Ok::<_, String>((field("base_url")?, field("kit_path")?, field("stack_file")?))
                })();
                match parsed {
                    Ok((base_url, kit_path, stack_file)) => {
                        let resolve = |p: String| {
                            let p = PathBuf::from(p);
                            if p.is_absolute() {
                                p
                            } else {
                                workspace.join(p)
                            }
                        };
                        return Ok(Stack {
                            base_url: base_url.trim_end_matches('/').to_string(),
                            stack_file: resolve(stack_file),
                            kit_path: resolve(kit_path),
                            workspace,
                            bin_dir,
                            _guard: Some(Guard {
                                _child: Mutex::new(child),
                                _stdin: Mutex::new(stdin),
                            }),
                        });
                    }
                    Err(why) => break why,
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                break format!("devstack did not print its ready line within {timeout} s")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                break format!("devstack exited before it was ready ({status})");
            }
        }
    };

    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let mut report = format!(
        "{failure}\ncommand: {} up --port 0 --state-dir {} --exit-on-stdin-close\n",
        devstack.display(),
        state_dir.display()
    );
    report.push_str("--- devstack stdout ---\n");
    for line in seen.lock().unwrap().iter() {
        report.push_str(line);
        report.push('\n');
    }
    report.push_str(&format!(
        "--- devstack stderr ({}) ---\n",
        stderr_path.display()
    ));
    report.push_str(&tail_of(&stderr_path, 200));
    for log in log_files(&state_dir) {
        report.push_str(&format!("--- {} ---\n", log.display()));
        report.push_str(&tail_of(&log, 100));
    }
    Err(report)
}

fn tail_of(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    out.push('\n');
    out
}

/// `*.log` files under the state directory (devstack's and its children's logs).
fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "log" || e == "txt" || e == "out" || e == "err")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Removes state left by runs more than a day old (each run gets a fresh directory).
fn prune_old_state(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let day = Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
