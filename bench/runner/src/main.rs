//! `bench`: the performance figures of the partner API, each beside its floor measured in the same
//! run (see README "Performance"; `scripts/bench` builds the release binaries and runs this).
//!
//! 1. init time of every function through the Lambda Runtime API vs a hello-world `lambda_http`
//!    function (+ the Secrets Manager read the token function and the authorizer need at init);
//! 2. per endpoint, through devstack's local API Gateway over the release binaries: DynamoDB round
//!    trips and consumed capacity (from the functions' own request log lines: SDK interceptor
//!    counts and `ReturnConsumedCapacity`), latency p50/p99, invocation duration, vs the raw
//!    DynamoDB Local round trips the endpoint needs, made with the SDK directly;
//! 3. throughput of a mixed partner workload at 1, 8 and 32 concurrent clients, errors counted;
//! 4. binary sizes (arm64 bootstraps from `cargo lambda build --release --arm64`), peak RSS;
//! 5. cost per one million delivery lifecycles at published AWS on-demand prices.

mod floor;
mod init;
mod report;
mod stack;
mod webhooks;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;

use report::{Endpoint, InitRow, Results, SizeRow, ThroughputRow};
use stack::{Partner, Stack};

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Performance figures of the partner API beside their floors"
)]
pub struct Cli {
    /// The functions and hello (release), devstack and opsctl, in one directory (scripts/bench
    /// links them into target/bench/bin)
    #[arg(long, default_value = "target/bench/bin")]
    bin_dir: PathBuf,
    /// Where `cargo lambda build --release --arm64` put the bootstraps (sizes); x86 sizes otherwise
    #[arg(long, default_value = "target/lambda")]
    arm64_dir: PathBuf,
    /// Local stack state and logs of this run
    #[arg(long, default_value = "target/bench/state")]
    state_dir: PathBuf,
    /// The SAM template (memory sizes for the cost)
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// The results file to (re)write
    #[arg(long, default_value = "bench/RESULTS.md")]
    out: PathBuf,
    /// Calls per endpoint for latency, round trips and capacity
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Cold starts per function
    #[arg(long, default_value_t = 10)]
    init_runs: usize,
    /// Seconds per throughput level
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds the release build took (reported)
    #[arg(long)]
    build_seconds: Option<u64>,
    /// Why there are no arm64 sizes, when there are none (reported)
    #[arg(long)]
    arm64_note: Option<String>,
}

pub const FUNCTIONS: [&str; 8] = [
    "token",
    "authorizer",
    "deliveries",
    "tracking",
    "control-tower",
    "claims",
    "products",
    "portal",
];

/// Sized besides the measured five: the other functions the template deploys (their bootstraps
/// come from the arm64 build of every default member; skipped when absent).
const SIZED_ONLY: [&str; 5] = ["certificates", "openapi", "webhooks", "events", "sender"];

fn function_env(stack: &Value) -> BTreeMap<String, String> {
    let s = |k: &str| stack[k].as_str().unwrap_or_default().to_string();
    let mut env = BTreeMap::new();
    for (k, v) in [
        ("TABLE_NAME", s("table_name")),
        ("ENVIRONMENT_NAME", s("environment")),
        ("SIGNING_KEYS_SECRET_ID", s("signing_keys_secret_id")),
        ("LINK_KEY_SECRET_ID", s("link_key_secret_id")),
        ("AWS_ENDPOINT_URL_DYNAMODB", s("dynamodb_endpoint")),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            s("secretsmanager_endpoint"),
        ),
        ("AWS_ENDPOINT_URL_S3", s("s3_endpoint")),
        ("CLAIMS_BUCKET", s("claims_bucket")),
        ("AWS_REGION", s("region")),
        ("AWS_DEFAULT_REGION", s("region")),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("RUST_LOG", "info".into()),
    ] {
        env.insert(k.to_string(), v);
    }
    env
}

fn step(what: &str) {
    eprintln!("bench: {what}");
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let started = Instant::now();
    let state_dir = std::path::absolute(&cli.state_dir).map_err(|e| e.to_string())?;
    let bin_dir = std::path::absolute(&cli.bin_dir).map_err(|e| e.to_string())?;
    step("starting the local stack over the release binaries");
    let stack = Stack::start(&bin_dir, &state_dir).await?;
    let result = measure(&cli, &bin_dir, &stack).await;
    stack.stop().await;
    let mut results = result?;
    results.sizes = sizes(&cli, &bin_dir);
    results.arm64_note = cli.arm64_note.clone();
    results.memory_mb = report::memory_sizes(&cli.template);
    results.build_seconds = cli.build_seconds;
    results.run_seconds = started.elapsed().as_secs();
    let text = report::render(&results);
    println!("{text}");
    if let Some(dir) = cli.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&cli.out, &text).map_err(|e| format!("{}: {e}", cli.out.display()))?;
    step(&format!("wrote {}", cli.out.display()));
    Ok(())
}

fn ok_or(c: &stack::Call, what: &str) -> Result<(), String> {
    if c.ok() {
        Ok(())
    } else {
        Err(format!("{what}: {} {}", c.status, c.body))
    }
}

pub(crate) const LIFECYCLE: [&str; 5] = [
    "in_process",
    "in_process",
    "in_delivery",
    "in_delivery",
    "success",
];

async fn measure(cli: &Cli, bin_dir: &std::path::Path, stack: &Stack) -> Result<Results, String> {
    let mut results = Results::default();
    let env = function_env(&stack.stack);

    // ---- init ---------------------------------------------------------------------------
    step(&format!(
        "init: {} cold starts of hello and each function",
        cli.init_runs
    ));
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    let sdk = shared::config::sdk_config().await;
    let secret_id = env["SIGNING_KEYS_SECRET_ID"].clone();
    let mut secret_floor = Vec::new();
    let names: Vec<&str> = std::iter::once("hello").chain(FUNCTIONS).collect();
    // The SDK loads the system's root certificates at client construction. Without
    // SSL_CERT_FILE, rustls-native-certs reads the bundle *and* every hashed link in the
    // certificate directory: on Debian that is each certificate twice; on Lambda's
    // provided.al2023 the directory holds only the bundle. The figures use the bundle alone (as
    // on Lambda); the Debian default is shown beside them.
    let bundle = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file());
    let mut lambda_like = env.clone();
    if let Some(b) = bundle {
        lambda_like.insert("SSL_CERT_FILE".into(), b.into());
    }
    let mut init_ms: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut init_default_ms: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 0..=cli.init_runs {
        for name in &names {
            let ms = init::one(&bin_dir.join(name), &lambda_like).await?;
            let default_ms = init::one(&bin_dir.join(name), &env).await?;
            if run > 0 {
                init_ms.entry(name).or_default().push(ms);
                init_default_ms.entry(name).or_default().push(default_ms);
            }
        }
        // The one network read at init of token and authorizer: a new client's first
        // GetSecretValue (connection included), as in a new process.
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let t = Instant::now();
        sm.get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .map_err(|e| format!("GetSecretValue: {e:?}"))?;
        if run > 0 {
            secret_floor.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    results.cert_bundle = bundle.map(str::to_string);
    let hello = report::Stats::of(&init_ms["hello"]);
    let secret = report::Stats::of(&secret_floor);
    results.secret_read = secret.clone();
    for name in names {
        let needs_secret = matches!(name, "token" | "authorizer");
        results.init.push(InitRow {
            name: name.to_string(),
            stats: report::Stats::of(&init_ms[name]),
            default_certs: report::Stats::of(&init_default_ms[name]),
            floor: hello.p50 + if needs_secret { secret.p50 } else { 0.0 },
            floor_what: if name == "hello" {
                "-".into()
            } else if needs_secret {
                "hello + 1 Secrets Manager read".into()
            } else {
                "hello".into()
            },
        });
    }

    // ---- warm-up and the sample delivery ---------------------------------------------------
    step("warming the stack up (every function once; partner, product and keys cached)");
    let partner = Partner::new(&stack.kit);
    let token = partner.token().await?;
    let run_id = std::process::id();
    let sample_tn = format!("BENCH-{run_id}-SAMPLE");
    let c = partner.submit(&token, &sample_tn).await;
    ok_or(&c, "submit")?;
    let sample_policy = c.body["policy_id"].as_str().unwrap_or_default().to_string();
    for status in LIFECYCLE {
        ok_or(&partner.track(&token, &sample_tn, status).await, "tracking")?;
    }
    ok_or(&partner.get(&token, &sample_tn).await, "get delivery")?;
    ok_or(&partner.list(&token).await, "list")?;
    ok_or(&partner.policy(&token, &sample_policy).await, "get policy")?;
    // The claims function too (its container reads the link key on its first list).
    ok_or(&partner.list_claims(&token).await, "list claims")?;
    let warm_tn = format!("BENCH-{run_id}-WARM");
    let c = partner.submit(&token, &warm_tn).await;
    ok_or(&c, "submit")?;
    let pid = c.body["policy_id"].as_str().unwrap_or_default().to_string();
    ok_or(&partner.cancel(&token, &warm_tn, &pid).await, "cancel")?;
    ok_or(&partner.catalogue(&token, None).await, "list products")?;
    ok_or(
        &partner.catalogue(&token, Some("ahasme")).await,
        "get product",
    )?;
    let c = partner.quote(&token).await;
    ok_or(&c, "quote")?;
    let sample_quote = c.body["quote_id"].as_str().unwrap_or_default().to_string();
    let quoted_tn = format!("BENCH-{run_id}-QUOTED");
    ok_or(
        &partner
            .submit_quoted(&token, &quoted_tn, &sample_quote)
            .await,
        "submit with a quote",
    )?;

    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let mut floor = floor::Floor::new(
        ddb,
        env["TABLE_NAME"].clone(),
        partner.partner_id.clone(),
        partner.client_id.clone(),
        &sample_tn,
    )
    .await?;
    results.item_bytes = floor.item_sizes();
    floor.load_quote(&sample_quote).await?;
    let n = cli.samples;

    // ---- per endpoint ------------------------------------------------------------------------
    step(&format!("endpoints: {n} calls each, then the floor"));
    let mut phase = Phase::new(stack, "token");
    for _ in 0..n {
        phase.call(partner.token_call().await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.token().await?);
    }
    results
        .endpoints
        .push(phase.finish("POST /oauth/token", "1 GetItem", f, (1, 1, 0)));

    // authorizer: a new token per call (the gateway caches a token's result), warm process
    let mut tokens = Vec::new();
    for _ in 0..n.min(50) {
        tokens.push(partner.token().await?);
    }
    let mut phase = Phase::new(stack, "authorizer");
    for t in &tokens {
        phase.call(partner.list(t).await);
    }
    let mut ep = phase.finish("authorizer (TOKEN, warm)", "none", vec![0.0], (0, 0, 0));
    ep.e2e = None;
    results.endpoints.push(ep);

    // Deliveries for the tracking phase (n/5 whole lifecycles) and the cancel phase (n).
    let tracked = n.div_ceil(LIFECYCLE.len());
    let mut phase = Phase::new(stack, "deliveries");
    let mut submitted = Vec::new();
    for i in 0..n + tracked {
        let tn = format!("BENCH-{run_id}-{i}");
        let c = partner.submit(&token, &tn).await;
        if c.ok() {
            submitted.push((tn, c.body["policy_id"].as_str().unwrap_or("").to_string()));
        }
        phase.call(c);
    }
    let mut f = Vec::new();
    for _ in 0..n + tracked {
        f.push(floor.submit().await?);
    }
    results.endpoints.push(phase.finish(
        "POST /sme-deliveries (submit)",
        "1 PutItem",
        f,
        (1, 0, 1),
    ));

    // Whole lifecycles (the statuses of LIFECYCLE in turn: moves and same-status updates, the
    // item growing by one event each time), so the mean is a lifecycle's mean.
    let (for_tracking, for_cancel) = submitted.split_at(tracked.min(submitted.len()));
    let mut phase = Phase::new(stack, "tracking");
    for (tn, _) in for_tracking {
        for status in LIFECYCLE {
            phase.call(partner.track(&token, tn, status).await);
        }
    }
    let mut f = Vec::new();
    for i in 0..tracked * LIFECYCLE.len() {
        let status = LIFECYCLE[i % LIFECYCLE.len()];
        let previous = if i % LIFECYCLE.len() == 0 {
            "created"
        } else {
            LIFECYCLE[i % LIFECYCLE.len() - 1]
        };
        f.push(floor.tracking(status != previous).await?);
    }
    results.endpoints.push(phase.finish(
        "POST /tracking-details (lifecycle mean)",
        "GetItem + UpdateItem",
        f,
        (2, 1, 1),
    ));

    let mut phase = Phase::new(stack, "deliveries");
    for (tn, policy) in for_cancel {
        phase.call(partner.cancel(&token, tn, policy).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.cancel().await?);
    }
    results.endpoints.push(phase.finish(
        "POST /sme-deliveries/cancel",
        "GetItem + UpdateItem",
        f,
        (2, 1, 1),
    ));

    let mut phase = Phase::new(stack, "control-tower");
    for _ in 0..n {
        phase.call(partner.get(&token, &sample_tn).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.get_delivery().await?);
    }
    results.endpoints.push(phase.finish(
        "GET /sme-deliveries/{tn} (5 events)",
        "1 Query",
        f,
        (1, 1, 0),
    ));

    let mut phase = Phase::new(stack, "control-tower");
    for _ in 0..n {
        phase.call(partner.list(&token).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.list(shared::service::DEFAULT_LIST_LIMIT).await?);
    }
    results.endpoints.push(phase.finish(
        &format!(
            "GET /sme-deliveries (list, {} items)",
            shared::service::DEFAULT_LIST_LIMIT
        ),
        &format!(
            "{} Queries (index shards)",
            shared::store::keys::LIST_SHARDS
        ),
        f,
        (
            shared::store::keys::LIST_SHARDS as u32,
            shared::store::keys::LIST_SHARDS as u32,
            0,
        ),
    ));
    results.index_units = std::mem::take(&mut floor.index_units);

    // ---- claims (issue 13): n failed deliveries, one claim each ----------------------------------
    step(&format!(
        "claims: {n} failed deliveries, then file, document, note, read, list"
    ));
    let mut failed = Vec::new();
    for i in 0..n {
        let tn = format!("BENCH-{run_id}-C{i}");
        let c = partner.submit(&token, &tn).await;
        ok_or(&c, "submit (claims)")?;
        let policy = c.body["policy_id"].as_str().unwrap_or_default().to_string();
        ok_or(
            &partner.track(&token, &tn, "fail").await,
            "tracking to fail",
        )?;
        failed.push((tn, policy));
    }
    let mut phase = Phase::new(stack, "claims");
    let mut claims = Vec::new();
    for (tn, policy) in &failed {
        let c = partner.file_claim(&token, tn, policy).await;
        if c.ok() {
            claims.push((
                tn.clone(),
                c.body["claim_id"].as_str().unwrap_or("").to_string(),
            ));
        }
        phase.call(c);
    }
    // Floors: the same operations on the delivery's copies (GetItem + a two-item transaction; GetItem + a write).
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.read_and_transact().await?);
    }
    results.endpoints.push(phase.finish(
        "POST /claims (file)",
        "GetItem + TransactWriteItems",
        f,
        (2, 1, 1),
    ));
    let mut write_floor = Vec::new();
    for _ in 0..n {
        write_floor.push(floor.cancel().await?);
    }
    let mut phase = Phase::new(stack, "claims");
    for (tn, id) in &claims {
        phase.call(partner.add_document(&token, id, tn).await);
    }
    results.endpoints.push(phase.finish(
        "POST /claims/{id}/documents (presigned upload)",
        "GetItem + UpdateItem",
        write_floor.clone(),
        (2, 1, 1),
    ));
    let mut phase = Phase::new(stack, "claims");
    for (tn, id) in &claims {
        phase.call(partner.add_note(&token, id, tn).await);
    }
    results.endpoints.push(phase.finish(
        "POST /claims/{id}/notes",
        "GetItem + UpdateItem",
        write_floor,
        (2, 1, 1),
    ));
    let mut phase = Phase::new(stack, "claims");
    for (_, id) in &claims {
        phase.call(partner.get_claim(&token, id).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.token().await?);
    }
    results.endpoints.push(phase.finish(
        "GET /claims/{id} (1 document; + 1 S3 ListObjectsV2)",
        "1 GetItem",
        f,
        (1, 1, 0),
    ));
    let mut phase = Phase::new(stack, "claims");
    for _ in 0..n {
        phase.call(partner.list_claims(&token).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.list(shared::service::DEFAULT_LIST_LIMIT).await?);
    }
    results.endpoints.push(phase.finish(
        &format!(
            "GET /claims (list, {} items)",
            shared::service::DEFAULT_LIST_LIMIT
        ),
        "1 Query (index)",
        f,
        (1, 1, 0),
    ));

    // The catalogue, warm: served from the product cache (no round trip; the floor is none).
    for (code, name) in [
        (None, "GET /products (catalogue, warm)"),
        (Some("ahasme"), "GET /products/{code} (warm)"),
    ] {
        let mut phase = Phase::new(stack, "products");
        for _ in 0..n {
            phase.call(partner.catalogue(&token, code).await);
        }
        results
            .endpoints
            .push(phase.finish(name, "none (cached)", vec![0.0], (0, 0, 0)));
    }

    // The developer portal (issue 15): the page and Redoc's bundle, embedded in the binary and
    // answered gzipped; no credentials, no round trip.
    for (file, name) in [
        ("", "GET /docs (portal page, gzip)"),
        (
            "redoc.standalone.js",
            "GET /docs/{file} (Redoc bundle, gzip)",
        ),
    ] {
        let mut phase = Phase::new(stack, "portal");
        for _ in 0..n {
            phase.call(partner.portal(file).await);
        }
        results
            .endpoints
            .push(phase.finish(name, "none", vec![0.0], (0, 0, 0)));
    }

    // Quotes (the product cached: one write), then Submit with a quote (read it, then submit's
    // conditional put). A fresh quote for the phase: quotes are valid 15 minutes.
    let mut phase = Phase::new(stack, "products");
    let mut quote_id = String::new();
    for _ in 0..n {
        let c = partner.quote(&token).await;
        if let Some(id) = c.body["quote_id"].as_str() {
            quote_id = id.to_string();
        }
        phase.call(c);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.quote().await?);
    }
    results
        .endpoints
        .push(phase.finish("POST /quotes", "1 PutItem", f, (1, 0, 1)));

    let mut phase = Phase::new(stack, "deliveries");
    for i in 0..n {
        let tn = format!("BENCH-{run_id}-Q{i}");
        phase.call(partner.submit_quoted(&token, &tn, &quote_id).await);
    }
    let mut f = Vec::new();
    for _ in 0..n {
        f.push(floor.submit_quoted().await?);
    }
    results.endpoints.push(phase.finish(
        "POST /sme-deliveries with quote_id",
        "GetItem + PutItem",
        f,
        (2, 1, 1),
    ));

    // ---- throughput ----------------------------------------------------------------------------
    for clients in [1usize, 8, 32] {
        step(&format!(
            "throughput: {clients} concurrent clients for {} s",
            cli.seconds
        ));
        results
            .throughput
            .push(throughput(&partner, clients, Duration::from_secs(cli.seconds), run_id).await?);
    }

    // ---- webhooks (issue 14) -----------------------------------------------------------------
    step("webhooks: write -> receiver latency, events per second, cost per million events");
    let memory = report::memory_sizes(&cli.template)
        .get("sender")
        .copied()
        .unwrap_or(256);
    results.webhooks = Some(webhooks::measure(stack, &partner, cli.samples, memory).await?);

    // ---- peak memory ---------------------------------------------------------------------------
    for name in FUNCTIONS {
        results
            .max_rss_mb
            .insert(name.to_string(), Stack::max_rss_mb(&bin_dir.join(name)));
    }
    Ok(results)
}

/// One endpoint's calls: client latencies, and what the function logged meanwhile.
struct Phase<'a> {
    stack: &'a Stack,
    binary: &'static str,
    from: u64,
    e2e: Vec<f64>,
    errors: Vec<String>,
}

impl<'a> Phase<'a> {
    fn new(stack: &'a Stack, binary: &'static str) -> Self {
        Phase {
            stack,
            binary,
            from: stack.log_offset(binary),
            e2e: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn call(&mut self, c: stack::Call) {
        if c.ok() {
            self.e2e.push(c.elapsed.as_secs_f64() * 1000.0);
        } else if self.errors.len() < 3 {
            self.errors.push(format!("{} {}", c.status, c.body));
        }
    }

    fn finish(
        self,
        name: &str,
        floor_ops: &str,
        floor_ms: Vec<f64>,
        target: (u32, u32, u32),
    ) -> Endpoint {
        // Function output reaches the log through a pipe: give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        let lines = self.stack.log_since(self.binary, self.from);
        let logs = stack::request_logs(&lines);
        for e in &self.errors {
            eprintln!("bench: {name}: failed call: {e}");
        }
        Endpoint {
            name: name.to_string(),
            function: self.binary.to_string(),
            calls: self.e2e.len() + self.errors.len(),
            failed: self.errors.len(),
            e2e: Some(report::Stats::of(&self.e2e)),
            duration: report::Stats::of(&stack::report_durations(&lines)),
            handler: report::Stats::of(
                &logs.iter().filter_map(|l| l.latency_ms).collect::<Vec<_>>(),
            ),
            own: report::Stats::of(
                &logs
                    .iter()
                    .filter_map(|l| Some(l.latency_ms? - l.dynamodb_ms?))
                    .collect::<Vec<_>>(),
            ),
            floor: report::Stats::of(&floor_ms),
            floor_ops: floor_ops.to_string(),
            round_trips: logs.iter().map(|l| l.dynamodb_round_trips).collect(),
            secrets_round_trips: logs.iter().map(|l| l.secrets_round_trips).collect(),
            read_units: logs.iter().map(|l| l.read_units).collect(),
            write_units: logs.iter().map(|l| l.write_units).collect(),
            target,
        }
    }
}

/// The mixed partner workload: each client runs delivery lifecycles (submit, 5 tracking
/// updates, 1 read), taking a new token every 100 calls.
async fn throughput(
    partner: &Partner,
    clients: usize,
    length: Duration,
    run_id: u32,
) -> Result<ThroughputRow, String> {
    let mut tokens = Vec::new();
    for _ in 0..clients {
        tokens.push(partner.token().await?);
    }
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, mut token) in tokens.into_iter().enumerate() {
        let p = partner.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            let mut calls = 0usize;
            let mut record = |c: &stack::Call, lat: &mut Vec<f64>| {
                lat.push(c.elapsed.as_secs_f64() * 1000.0);
                if !c.ok() {
                    errors += 1;
                    first_error.get_or_insert_with(|| format!("{} {}", c.status, c.body));
                }
            };
            let mut i = 0;
            'outer: while Instant::now() < deadline {
                let tn = format!("TP-{run_id}-{clients}-{w}-{i}");
                i += 1;
                let mut ops: Vec<&str> = vec!["submit"];
                ops.extend(LIFECYCLE);
                ops.push("get");
                for op in ops {
                    if Instant::now() >= deadline {
                        break 'outer;
                    }
                    calls += 1;
                    if calls.is_multiple_of(100) {
                        let c = p.token_call().await;
                        record(&c, &mut lat);
                        if let Some(t) = c.body["access_token"].as_str() {
                            token = t.to_string();
                        }
                    }
                    let c = match op {
                        "submit" => p.submit(&token, &tn).await,
                        "get" => p.get(&token, &tn).await,
                        status => p.track(&token, &tn, status).await,
                    };
                    record(&c, &mut lat);
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(e) = &first_error {
        eprintln!("bench: throughput {clients}: first error: {e}");
    }
    Ok(ThroughputRow {
        clients,
        requests: lat.len(),
        errors,
        rps: lat.len() as f64 / secs,
        latency: report::Stats::of(&lat),
        first_error,
    })
}

fn sizes(cli: &Cli, bin_dir: &std::path::Path) -> Vec<SizeRow> {
    std::iter::once("hello")
        .chain(FUNCTIONS)
        .chain(SIZED_ONLY)
        .filter_map(|name| {
            let arm = cli.arm64_dir.join(name).join("bootstrap");
            let (path, arm64) = if arm.is_file() {
                (arm, true)
            } else {
                (bin_dir.join(name), false)
            };
            let bytes = std::fs::metadata(&path).map(|m| m.len()).ok()?;
            Some(SizeRow {
                name: name.to_string(),
                bytes,
                arm64,
            })
        })
        .collect()
}
