//! Fault injection for the local stack's fault tests, and nothing else: devstack sets
//! `FAULT_INJECTION_FILE` for the functions (the template never does), and the tests write into
//! that file which records the events function or the sender must fail on, or crash at:
//!
//! `{"events": {"fail": ["<text>"], "crash": ["<text>"]}, "sender": {"fail": [...], "crash": [...]}}`
//!
//! A record whose content contains a `fail` text is reported as failed (as if its processing had
//! thrown); at a record containing a `crash` text the process aborts mid-batch (as if killed).
//! The file is read at each invocation (it is small), so a test can switch faults off again.

use serde::Deserialize;

pub const ENV: &str = "FAULT_INJECTION_FILE";

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Faults {
    #[serde(default)]
    pub fail: Vec<String>,
    #[serde(default)]
    pub crash: Vec<String>,
}

impl Faults {
    /// The faults of one function (`events`, `sender`); none when the variable is unset.
    pub fn load(function: &str) -> Faults {
        let Ok(path) = std::env::var(ENV) else {
            return Faults::default();
        };
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get(function).cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    /// Whether any fault is set: callers skip building a record's content otherwise (the
    /// deployed functions never have one).
    pub fn active(&self) -> bool {
        !self.fail.is_empty() || !self.crash.is_empty()
    }

    pub fn fails(&self, content: &str) -> bool {
        self.fail
            .iter()
            .any(|t| !t.is_empty() && content.contains(t.as_str()))
    }

    /// Aborts the process if `content` is a crash point (the mid-batch kill of the fault tests).
    pub fn crash_at(&self, content: &str) {
        if self
            .crash
            .iter()
            .any(|t| !t.is_empty() && content.contains(t.as_str()))
        {
            tracing::warn!("fault injection: crashing mid-batch");
            std::process::abort();
        }
    }
}
