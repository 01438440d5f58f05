//! The developer portal in a real browser: starts the local stack and runs
//! `tests/browser/test_portal.py` (pytest + Playwright, installed by `scripts/install` in
//! `target/tools/playwright`) against it, driving the system Chromium. See the script's
//! docstring for what it checks.

use std::process::Command;

use blackbox::stack;

#[test]
fn the_portal_works_in_a_real_browser() {
    let stack = stack();
    let root = &stack.workspace;
    let python = root.join("target/tools/playwright/bin/python");
    let axe = root.join("target/tools/portal/node_modules/axe-core/axe.min.js");
    for (path, what) in [
        (&python, "Playwright's virtual environment"),
        (&axe, "axe-core"),
    ] {
        assert!(
            path.exists(),
            "{} is missing ({what}): run scripts/install",
            path.display()
        );
    }
    let started = std::time::Instant::now();
    let out = Command::new(&python)
        .current_dir(root)
        .args([
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/browser/test_portal.py",
        ])
        .env("PORTAL_BASE_URL", &stack.base_url)
        .env("PORTAL_KIT", &stack.kit_path)
        .env("AXE_JS", &axe)
        .output()
        .unwrap_or_else(|e| panic!("running pytest: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "browser tests took {:.0} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "the browser tests failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
