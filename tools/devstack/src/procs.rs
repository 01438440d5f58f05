//! Child processes that cannot outlive devstack.
//!
//! Every child runs in its own process group (so a terminal's Ctrl-C reaches devstack only, and
//! devstack stops the children in order) and asks the kernel to SIGKILL it when devstack dies
//! (`PR_SET_PDEATHSIG`), so even a `kill -9` of devstack leaves no orphans. The runtime is
//! single-threaded, so the thread that spawned a child (the one `PDEATHSIG` watches) lives as
//! long as devstack.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::{oneshot, watch};

/// Makes `cmd` a supervised child: own process group, killed with devstack, no stdin.
pub fn harden(cmd: &mut Command) {
    let parent = std::process::id();
    cmd.process_group(0).kill_on_drop(true).stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // devstack died between fork and prctl: do not run orphaned.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// A running child; dropping it kills the child's process group.
pub struct Supervised {
    pub pid: u32,
    stop_tx: Option<oneshot::Sender<Duration>>,
    exited: watch::Receiver<Option<String>>,
}

pub struct Spawned {
    pub child: Supervised,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

/// Spawns `cmd` (call [`harden`] first) and watches it.
pub fn spawn(cmd: &mut Command) -> io::Result<Spawned> {
    let mut child: Child = cmd.spawn()?;
    let pid = child.id().expect("a just-spawned child has a pid");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
    let (exited_tx, exited_rx) = watch::channel(None);
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            grace = stop_rx => {
                // A dropped handle (Err) means: stop now.
                let grace = grace.unwrap_or(Duration::ZERO);
                if grace.is_zero() {
                    signal_group(pid, libc::SIGKILL);
                    child.wait().await
                } else {
                    signal_group(pid, libc::SIGTERM);
                    match tokio::time::timeout(grace, child.wait()).await {
                        Ok(status) => status,
                        Err(_) => {
                            signal_group(pid, libc::SIGKILL);
                            child.wait().await
                        }
                    }
                }
            }
        };
        let _ = exited_tx.send(Some(describe(status)));
    });
    Ok(Spawned {
        child: Supervised {
            pid,
            stop_tx: Some(stop_tx),
            exited: exited_rx,
        },
        stdout,
        stderr,
    })
}

fn signal_group(pid: u32, signal: i32) {
    // SAFETY: plain syscall. The child is not reaped yet when this is called before `wait`
    // returns, so the group id cannot have been reused.
    unsafe {
        libc::kill(-(pid as i32), signal);
    }
}

fn describe(status: io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => format!("ended ({s})"),
        },
        Err(e) => format!("could not be waited for: {e}"),
    }
}

impl Supervised {
    /// Asks the child to stop: SIGTERM, then SIGKILL after `grace` (zero: SIGKILL at once).
    /// Returns once it is gone.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(grace);
        }
        self.wait().await;
    }

    /// Asks the child to stop without waiting.
    pub fn kill(&mut self) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(Duration::ZERO);
        }
    }

    /// Waits until the child has exited; returns how it ended.
    pub async fn wait(&mut self) -> String {
        let mut rx = self.exited.clone();
        let how = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            Err(_) => "ended".to_string(),
        };
        how
    }

    /// A receiver that turns `Some(how it ended)` when the child exits.
    pub fn exited(&self) -> watch::Receiver<Option<String>> {
        self.exited.clone()
    }

    pub fn has_exited(&self) -> Option<String> {
        self.exited.borrow().clone()
    }
}
