//! `devstack up`: DynamoDB Local and moto, `opsctl` to set the stack up, then the gateway; and
//! stopping all of it.

use crate::gateway::{self, Gateway};
use crate::lambda::{Function, FunctionConfig, LogSink, REGION};
use crate::procs;
use crate::services::{self, Service};
use crate::template::Template;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub const ENVIRONMENT: &str = "local";
pub const TABLE_NAME: &str = "partner-api-local";
pub const SIGNING_KEYS_SECRET_ID: &str = "partner-api/local/signing-keys";
pub const LINK_KEY_SECRET_ID: &str = "partner-api/local/link-key";
pub const WEBHOOK_KEY_SECRET_ID: &str = "partner-api/local/webhook-key";
/// The template's `ClaimsBucket` in moto (issue 13).
pub const CLAIMS_BUCKET: &str = "partner-api-local-claims";
pub const ACCESS_KEY_ID: &str = "local";
pub const SECRET_ACCESS_KEY: &str = "local";
/// How long one `opsctl` step may take.
const OPSCTL_STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// What each `!Ref` of the template is locally. A `!Ref` not listed here stops devstack at
/// startup, so the template cannot gain a reference the local stack silently lacks.
pub fn local_refs() -> BTreeMap<String, String> {
    [
        ("Table", TABLE_NAME),
        ("SigningKeysSecret", SIGNING_KEYS_SECRET_ID),
        ("LinkKeySecret", LINK_KEY_SECRET_ID),
        ("WebhookKeySecret", WEBHOOK_KEY_SECRET_ID),
        ("ClaimsBucket", CLAIMS_BUCKET),
        ("EnvironmentName", ENVIRONMENT),
        ("AWS::Region", REGION),
        ("AWS::AccountId", crate::lambda::ACCOUNT_ID),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `local_refs` plus each queue's `!Ref` (its URL), and the variables devstack sets itself
/// whatever the template says (`PUBLIC_BASE_URL`: the local gateway, whose URL `!Sub` of the
/// deployed API's cannot name).
pub fn local_values(
    queues: &BTreeMap<String, crate::esm::LocalQueue>,
    base_url: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut refs = local_refs();
    for (id, q) in queues {
        refs.insert(id.clone(), q.url.clone());
    }
    let overrides = BTreeMap::from([("PUBLIC_BASE_URL".to_string(), base_url.to_string())]);
    (refs, overrides)
}

/// Every local function's environment, checked before anything starts (queue URLs and the
/// gateway's URL are placeholders until they are known).
pub fn check_environments(
    template: &Template,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let placeholders: BTreeMap<String, crate::esm::LocalQueue> = template
        .queues
        .keys()
        .map(|id| {
            (
                id.clone(),
                crate::esm::LocalQueue {
                    url: format!("http://127.0.0.1:0/{}/{id}", crate::lambda::ACCOUNT_ID),
                    arn: String::new(),
                },
            )
        })
        .collect();
    let (refs, overrides) = local_values(&placeholders, "http://127.0.0.1:0");
    let mut out = BTreeMap::new();
    for f in template.served_functions() {
        out.insert(
            f.logical_id.clone(),
            f.resolve_environment_with(&refs, &overrides)
                .map_err(|e| e.0)?,
        );
    }
    Ok(out)
}

pub struct UpOptions {
    pub port: u16,
    pub state_dir: PathBuf,
    pub template: PathBuf,
    pub bin_dir: PathBuf,
    pub tools_dir: PathBuf,
    pub exit_on_stdin_close: bool,
    pub verbose: bool,
    pub max_concurrency: usize,
    /// Stage throttling (`--stage-throttle`); `None`: not throttled.
    pub stage_throttle: Option<crate::throttle::Limits>,
    /// Environment variables of every function, over the template's (`--function-env`).
    pub function_env: Vec<(String, String)>,

    /// Fault-injecting proxies between the functions and the emulators (`faults`).
    pub dynamodb_faults: Option<crate::faults::FaultSpec>,
    pub secretsmanager_faults: Option<crate::faults::FaultSpec>,
    /// `--queue-visibility-timeout SECS`: every queue's visibility timeout instead of the
    /// template's (a test of a crashed sender need not wait 3 minutes).
    pub queue_visibility_timeout: Option<u64>,
}

/// `<state-dir>/stack.json`, what `opsctl --stack-file` (and the tests) read.
#[derive(Serialize)]
struct StackFile<'a> {
    environment: &'a str,
    region: &'a str,
    table_name: &'a str,
    signing_keys_secret_id: &'a str,
    link_key_secret_id: &'a str,
    webhook_key_secret_id: &'a str,
    api_base_url: String,
    token_url: String,
    developer_portal_url: String,
    dynamodb_endpoint: String,
    secretsmanager_endpoint: String,
    /// S3 (moto, the same server as Secrets Manager; path-style addressing) and the claims bucket.
    s3_endpoint: String,
    claims_bucket: &'a str,
    /// Where the functions reach DynamoDB when `--dynamodb-faults` is on (control: `/__faults`).
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamodb_fault_proxy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secretsmanager_fault_proxy: Option<String>,
    /// moto's SQS (the same server as Secrets Manager) and the template's queues by logical id.
    sqs_endpoint: String,
    queues: BTreeMap<String, String>,
    /// What the pipeline functions read for fault injection (`shared::faults`).
    fault_injection_file: String,
}

#[derive(Serialize)]
struct Ready<'a> {
    event: &'a str,
    base_url: &'a str,
    kit_path: &'a str,
    stack_file: &'a str,
}

/// The AWS settings every local client gets: local endpoints, region and dummy credentials.
fn aws_env(dynamodb: &str, secretsmanager: &str, s3: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_string()),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            secretsmanager.to_string(),
        ),
        ("AWS_ENDPOINT_URL_SQS", s3.to_string()),
        // moto serves S3 on the same port; clients use path-style addressing with it
        // (shared::documents::s3_client).
        ("AWS_ENDPOINT_URL_S3", s3.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
    ]
}

/// `p` made absolute without resolving symbolic links.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Running {
    services: Vec<Service>,
    gateway: Option<Arc<Gateway>>,
    /// The event source mappings' pollers.
    pollers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn stop(&mut self) {
        for p in self.pollers.drain(..) {
            p.abort();
        }
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
        for s in self.services.iter_mut().rev() {
            s.child.stop(Duration::from_secs(2)).await;
        }
        self.services.clear();
    }
}

pub async fn up(opts: UpOptions) -> Result<(), String> {
    // Everything that can be checked before starting anything.
    let text = std::fs::read_to_string(&opts.template)
        .map_err(|e| format!("cannot read {}: {e}", opts.template.display()))?;
    let template =
        Template::parse(&text).map_err(|e| format!("{}: {e}", opts.template.display()))?;
    check_environments(&template)?;
    let mut missing = Vec::new();
    for binary in template
        .served_functions()
        .iter()
        .map(|f| f.binary.as_str())
        .chain(["opsctl"])
    {
        if !opts.bin_dir.join(binary).is_file() {
            missing.push(binary.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "missing in {}: {}; build them with `cargo build --workspace --bins`",
            opts.bin_dir.display(),
            missing.join(", ")
        ));
    }

    let logs_dir = opts.state_dir.join("logs");
    std::fs::create_dir_all(&logs_dir)
        .map_err(|e| format!("cannot create {}: {e}", logs_dir.display()))?;
    let state_dir = absolute(&opts.state_dir);
    let stack_file = state_dir.join("stack.json");
    let kit_file = state_dir.join("demo-partner-kit.json");
    for stale in [&stack_file, &kit_file] {
        let _ = std::fs::remove_file(stale);
    }

    eprintln!("devstack: starting DynamoDB Local and moto_server (Secrets Manager)...");
    let mut running = Running {
        services: Vec::new(),
        gateway: None,
        pollers: Vec::new(),
    };
    let (ddb, moto) = tokio::join!(
        services::start_dynamodb(&opts.tools_dir, &state_dir),
        services::start_moto(&opts.tools_dir, &state_dir)
    );
    let mut errors = Vec::new();
    for started in [ddb, moto] {
        match started {
            Ok(s) => running.services.push(s),
            Err(e) => errors.push(e),
        }
    }
    let result = run(
        &opts,
        &template,
        &state_dir,
        &stack_file,
        &kit_file,
        &mut running,
        errors,
    )
    .await;
    eprintln!("devstack: stopping...");
    running.stop().await;
    if result.is_ok() {
        eprintln!("devstack: stopped.");
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    opts: &UpOptions,
    template: &Template,
    state_dir: &Path,
    stack_file: &Path,
    kit_file: &Path,
    running: &mut Running,
    errors: Vec<String>,
) -> Result<(), String> {
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let ddb_endpoint = running.services[0].endpoint();
    let sm_endpoint = running.services[1].endpoint();
    for s in &running.services {
        eprintln!(
            "devstack: {} is on {} (log: {})",
            s.name,
            s.endpoint(),
            s.log.display()
        );
    }

    // The gateway's port is known before anything is written.
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{}: {e} (choose another port with --port, or PORT=... for scripts/run)",
                opts.port
            )
        })?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let base_url = format!("http://127.0.0.1:{port}");

    // Optional fault-injecting proxies: only the functions go through them (opsctl and the
    // tests reach the emulators directly).
    let mut fn_ddb_endpoint = ddb_endpoint.clone();
    let mut fn_sm_endpoint = sm_endpoint.clone();
    let mut ddb_proxy = None;
    let mut sm_proxy = None;
    if let Some(spec) = &opts.dynamodb_faults {
        let p = crate::faults::start("DynamoDB", ddb_endpoint.clone(), spec.clone()).await?;
        eprintln!(
            "devstack: DynamoDB fault proxy on {} (faults: {spec:?})",
            p.endpoint()
        );
        fn_ddb_endpoint = p.endpoint();
        ddb_proxy = Some(p.endpoint());
    }
    if let Some(spec) = &opts.secretsmanager_faults {
        let p = crate::faults::start("Secrets Manager", sm_endpoint.clone(), spec.clone()).await?;
        eprintln!(
            "devstack: Secrets Manager fault proxy on {} (faults: {spec:?})",
            p.endpoint()
        );
        fn_sm_endpoint = p.endpoint();
        sm_proxy = Some(p.endpoint());
    }

    // The template's queues, in moto (webhooks).
    let sqs = sqs_client(&sm_endpoint);
    let queues =
        crate::esm::create_queues(&sqs, &template.queues, opts.queue_visibility_timeout).await?;
    let fault_file = state_dir.join("faults.json");
    std::fs::write(&fault_file, "{}\n")
        .map_err(|e| format!("cannot write {}: {e}", fault_file.display()))?;

    let stack = StackFile {
        environment: ENVIRONMENT,
        region: REGION,
        table_name: TABLE_NAME,
        signing_keys_secret_id: SIGNING_KEYS_SECRET_ID,
        link_key_secret_id: LINK_KEY_SECRET_ID,
        webhook_key_secret_id: WEBHOOK_KEY_SECRET_ID,
        sqs_endpoint: sm_endpoint.clone(),
        queues: queues
            .iter()
            .map(|(k, q)| (k.clone(), q.url.clone()))
            .collect(),
        fault_injection_file: fault_file.display().to_string(),
        api_base_url: format!("{base_url}/api/v1"),
        token_url: format!("{base_url}/oauth/token"),
        developer_portal_url: format!("{base_url}/docs"),
        dynamodb_endpoint: ddb_endpoint.clone(),
        secretsmanager_endpoint: sm_endpoint.clone(),
        s3_endpoint: sm_endpoint.clone(),
        claims_bucket: CLAIMS_BUCKET,
        dynamodb_fault_proxy: ddb_proxy,
        secretsmanager_fault_proxy: sm_proxy,
    };
    let json = serde_json::to_string_pretty(&stack).expect("serializable") + "\n";
    std::fs::write(stack_file, json)
        .map_err(|e| format!("cannot write {}: {e}", stack_file.display()))?;

    // Set the stack up with the operator tool.
    let aws = aws_env(&ddb_endpoint, &sm_endpoint, &sm_endpoint);
    let opsctl = opts.bin_dir.join("opsctl");
    let stack_arg = stack_file.display().to_string();
    let template_arg = absolute(&opts.template).display().to_string();
    let kit_arg = kit_file.display().to_string();
    // Every S3 bucket of the template, by its local name (issue 13: the claims bucket).
    let refs = local_refs();
    let mut buckets = Vec::new();
    for id in &template.buckets {
        let name = refs.get(id).ok_or_else(|| {
            format!("the template's bucket {id} has no local name; add it to devstack's local values (tools/devstack/src/stack.rs)")
        })?;
        buckets.push((id.as_str(), name.as_str()));
    }
    let mut steps: Vec<Vec<&str>> = vec![
        vec!["table", "create", "--template", &template_arg],
        vec!["keys", "init"],
    ];
    for (id, name) in &buckets {
        steps.push(vec![
            "bucket",
            "create",
            "--template",
            &template_arg,
            "--resource",
            id,
            "--name",
            name,
        ]);
    }
    steps.extend(vec![
        vec![
            "product",
            "put",
            "--code",
            "ahasme",
            "--currency",
            "VND",
            "--max-item-value",
            "30000000",
            "--premium-rate-bps",
            "50",
            "--min-premium",
            "5000",
        ],
        vec![
            "partner",
            "onboard",
            "--name",
            "Demo Logistics",
            "--subscriptions",
            "insurance,tracking,control_tower,claims",
            "--kit-file",
            &kit_arg,
        ],
    ]);
    let opsctl_log_path = state_dir.join("logs/opsctl.log");
    let mut opsctl_log = std::fs::File::create(&opsctl_log_path)
        .map_err(|e| format!("cannot write {}: {e}", opsctl_log_path.display()))?;
    for step in &steps {
        let shown = format!("opsctl --stack-file {stack_arg} {}", shell_words(step));
        eprintln!("devstack: {shown}");
        let mut cmd = tokio::process::Command::new(&opsctl);
        cmd.arg("--stack-file").arg(&stack_arg).args(step);
        for var in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"] {
            cmd.env_remove(var);
        }
        cmd.envs(aws.iter().map(|(k, v)| (*k, v)));
        procs::harden(&mut cmd);
        let output = tokio::time::timeout(OPSCTL_STEP_TIMEOUT, cmd.output())
            .await
            .map_err(|_| {
                format!(
                    "{shown} did not finish within {} s",
                    OPSCTL_STEP_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("cannot run {}: {e}", opsctl.display()))?;
        let _ = writeln!(opsctl_log, "$ {shown}\n# {}", output.status);
        // `partner onboard` prints the credentials kit (client secret, api_token_key): it goes
        // to the kit file (mode 0600), never into a log.
        let stdout = if step.starts_with(&["partner", "onboard"]) {
            format!("(stdout withheld: it holds the credentials kit, written to {kit_arg})\n")
                .into_bytes()
        } else {
            output.stdout.clone()
        };
        let _ = opsctl_log.write_all(&stdout);
        let _ = opsctl_log.write_all(&output.stderr);
        if !output.status.success() {
            return Err(format!(
                "{shown} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr),
                if stdout.is_empty() {
                    String::new()
                } else {
                    format!("(stdout)\n{}", String::from_utf8_lossy(&stdout))
                }
            ));
        }
    }
    if !kit_file.is_file() {
        return Err(format!(
            "opsctl partner onboard succeeded but did not write {}",
            kit_file.display()
        ));
    }

    // The functions and the gateway.
    let aws = aws_env(&fn_ddb_endpoint, &fn_sm_endpoint, &sm_endpoint);
    let (refs, overrides) = local_values(&queues, &base_url);
    let mut functions = BTreeMap::new();
    for f in template.served_functions() {
        let mut env = f
            .resolve_environment_with(&refs, &overrides)
            .map_err(|e| e.0)?;
        env.extend(aws.iter().map(|(k, v)| (k.to_string(), v.clone())));
        // The fault proxies sit between the API's functions and the emulators; the pipeline's
        // functions (event source mapping targets) reach them directly and have their own fault
        // injection (FAULT_INJECTION_FILE), so a proxy fault meant for an API call is never
        // spent on the pipeline's writes.
        if template
            .event_source_mappings
            .iter()
            .any(|m| m.function == f.logical_id)
        {
            let direct = aws_env(&ddb_endpoint, &sm_endpoint, &sm_endpoint);
            env.extend(direct.iter().map(|(k, v)| (k.to_string(), v.clone())));
        }
        env.insert(
            "FAULT_INJECTION_FILE".to_string(),
            fault_file.display().to_string(),
        );
        for var in ["RUST_LOG", "PATH", "HOME"] {
            if let Ok(v) = std::env::var(var) {
                env.insert(var.to_string(), v);
            }
        }
        env.extend(opts.function_env.iter().cloned());
        let logs = LogSink::open(
            &state_dir.join(format!("logs/{}.log", f.binary)),
            &f.binary,
            opts.verbose,
        )
        .map_err(|e| format!("cannot open the log of {}: {e}", f.binary))?;
        let config = FunctionConfig {
            name: f.logical_id.clone(),
            binary: f.binary.clone(),
            executable: absolute(&opts.bin_dir.join(&f.binary)),
            timeout: f.timeout,
            memory_mb: f.memory_mb,
            handler: f.handler.clone(),
            env,
            max_concurrency: opts.max_concurrency,
        };
        functions.insert(f.logical_id.clone(), Function::new(config, Arc::new(logs)));
    }
    let gateway_log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join("logs/gateway.log"))
        .map_err(|e| format!("cannot open the gateway log: {e}"))?;
    // The event source mappings (stream -> events function, queue -> sender).
    let esm_log = LogSink::open(&state_dir.join("logs/esm.log"), "esm", opts.verbose)
        .map_err(|e| format!("cannot open the event source mappings' log: {e}"))?;
    let esm = Arc::new(crate::esm::Context {
        functions: functions.clone(),
        ddb: ddb_client(&ddb_endpoint),
        streams: streams_client(&ddb_endpoint),
        sqs,
        table_name: TABLE_NAME.to_string(),
        queues,
        log: Arc::new(esm_log),
    });
    let pollers = crate::esm::start(esm, &template.event_source_mappings).await?;
    running.pollers = pollers;
    let gateway = Arc::new(
        Gateway::new(
            &template.routes,
            template.authorizers.clone(),
            crate::responses::GatewayResponses::new(template.gateway_responses.clone()),
            functions,
            port,
            gateway_log,
            opts.verbose,
        )
        .with_stage_throttle(opts.stage_throttle),
    );
    running.gateway = Some(gateway.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        gateway::router(gateway).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    });
    let mut server = tokio::spawn(async move { server.await });

    let ready = Ready {
        event: "ready",
        base_url: &base_url,
        kit_path: &kit_file.display().to_string(),
        stack_file: &stack_file.display().to_string(),
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&ready).expect("serializable")
        );
        let _ = out.flush();
    }
    eprintln!(
        "\n  Local partner API ready: {base_url}\n  \
         Token URL:   {base_url}/oauth/token\n  \
         API base:    {base_url}/api/v1\n  \
         Portal:      {base_url}/docs (developer_portal_url: guides, reference, code samples)\n  \
         Demo kit:    {} (client_id, client_secret, api_token_key)\n  \
         Logs:        {}/logs/\n  \
         Stop with Ctrl-C{}.\n",
        kit_file.display(),
        state_dir.display(),
        if opts.exit_on_stdin_close {
            " or by closing stdin"
        } else {
            ""
        }
    );

    // Run until told to stop, or until something we depend on dies.
    let reason = wait_for_stop(opts.exit_on_stdin_close, running, &mut server).await;
    let _ = stop_tx.send(true);
    match reason {
        Stop::Requested(why) => {
            eprintln!("devstack: {why}");
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut server).await;
            Ok(())
        }
        Stop::Failed(why) => Err(why),
    }
}

enum Stop {
    Requested(String),
    Failed(String),
}

async fn wait_for_stop(
    watch_stdin: bool,
    running: &Running,
    server: &mut tokio::task::JoinHandle<std::io::Result<()>>,
) -> Stop {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => return Stop::Failed(format!("cannot handle SIGTERM: {e}")),
    };
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => return Stop::Failed(format!("cannot handle SIGHUP: {e}")),
    };
    let stdin_closed = async {
        if !watch_stdin {
            return std::future::pending::<()>().await;
        }
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let (ddb_name, mut ddb_exit) = (running.services[0].name, running.services[0].child.exited());
    let (moto_name, mut moto_exit) = (running.services[1].name, running.services[1].child.exited());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Stop::Requested("interrupted; stopping everything".into()),
        _ = term.recv() => Stop::Requested("SIGTERM; stopping everything".into()),
        _ = hangup.recv() => Stop::Requested("SIGHUP; stopping everything".into()),
        _ = stdin_closed => Stop::Requested("stdin closed; stopping everything".into()),
        how = ddb_exit.wait_for(Option::is_some) => Stop::Failed(format!(
            "{ddb_name} stopped unexpectedly ({})",
            how.map(|h| h.clone().unwrap_or_default()).unwrap_or_default()
        )),
        how = moto_exit.wait_for(Option::is_some) => Stop::Failed(format!(
            "{moto_name} stopped unexpectedly ({})",
            how.map(|h| h.clone().unwrap_or_default()).unwrap_or_default()
        )),
        r = server => Stop::Failed(format!("the gateway stopped: {r:?}")),
    }
}

fn credentials() -> aws_sdk_sqs::config::Credentials {
    aws_sdk_sqs::config::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "devstack")
}

fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_sqs::config::Region::new(REGION))
            .credentials_provider(credentials())
            .endpoint_url(endpoint)
            .build(),
    )
}

fn ddb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_dynamodb::config::Region::new(REGION))
            .credentials_provider(credentials())
            .endpoint_url(endpoint)
            .build(),
    )
}

fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_dynamodbstreams::config::Region::new(REGION))
            .credentials_provider(credentials())
            .endpoint_url(endpoint)
            .build(),
    )
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') {
                format!("\"{a}\"")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
