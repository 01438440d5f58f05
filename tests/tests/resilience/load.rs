//! The load run: N delivery lifecycles at C concurrent clients against the loopback stack
//! (no faults), then every answer reconciled with what is stored. Prints the figures.

use std::sync::Arc;
use std::time::Duration;

use blackbox::workload::{reconcile, run};
use blackbox::Partner;

use crate::{env_usize, fault_counts, set_faults, take_turn};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_run_loses_and_doubles_nothing() {
    let Some((_turn, fs)) = take_turn().await else {
        return;
    };
    let stack = &fs.stack;
    set_faults(stack, "dynamodb", "off").await;
    set_faults(stack, "secretsmanager", "off").await;
    let lifecycles = env_usize("LOAD_DELIVERIES", 200);
    let clients = env_usize("LOAD_CLIENTS", 16);
    // A partner of its own, so the table holds exactly what this run wrote for it.
    let kit = blackbox::partner::onboard_kit_json_on(stack, "load-run").await;
    let p = Arc::new(Partner::from_kit(kit));
    p.token().await;
    let before = fault_counts(stack, "dynamodb").await["counts"]["requests"]
        .as_u64()
        .unwrap_or(0);
    let result = run(p.clone(), lifecycles, clients, Duration::from_secs(1)).await;
    let after = fault_counts(stack, "dynamodb").await["counts"]["requests"]
        .as_u64()
        .unwrap_or(0);
    eprintln!("LOAD RUN: {}", result.report());
    eprintln!(
        "LOAD RUN: DynamoDB requests from the functions: {} ({:.1} per API request)",
        after - before,
        (after - before) as f64 / result.tally.requests().max(1) as f64
    );
    let rec = reconcile(&p, &stack.stack_json(), &result.expected).await;
    eprintln!(
        "LOAD RUN reconciliation: {} deliveries checked; lost {}, duplicated {}, mismatched {}",
        rec.checked,
        rec.lost.len(),
        rec.duplicated.len(),
        rec.mismatched.len()
    );
    assert!(
        result.tally.unexpected.is_empty(),
        "{:#?}",
        result.tally.unexpected
    );
    assert_eq!(result.tally.gave_up, 0);
    assert_eq!(result.tally.other_5xx(), 0, "{}", result.report());
    assert_eq!(result.expected.len(), lifecycles);
    assert!(rec.is_clean(), "{rec:#?}");
    assert_eq!(rec.checked, lifecycles);
}
