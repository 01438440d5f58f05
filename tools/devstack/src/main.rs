//! `devstack`: the local stand-in for what is deployed (API Gateway REST API + Lambda +
//! DynamoDB + Secrets Manager). See `gateway` for what the local gateway emulates and what it
//! does not, and `lambda` for how functions run.

mod esm;
mod faults;
mod gateway;
mod ids;
mod lambda;
mod policy;
mod procs;
mod responses;
mod routing;
mod services;
mod stack;
mod template;
mod throttle;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "devstack",
    about = "Local stack: DynamoDB Local, a Secrets Manager emulator, and a local API Gateway that runs the real function binaries",
    after_help = "Paths that are not given default to the repository (the first directory, from the current one \
                  or else from devstack's own location upwards, that holds infra/template.yaml): \
                  infra/template.yaml, target/local, target/tools; --bin-dir defaults to the directory of \
                  the devstack executable (target/debug after cargo build)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start everything and serve the API until Ctrl-C (or SIGTERM, or stdin closing with --exit-on-stdin-close)
    Up {
        /// Gateway port on 127.0.0.1 (0: any free port)
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Where state, logs, stack.json and the demo partner kit go [default: target/local]
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// The SAM template [default: infra/template.yaml]
        #[arg(long)]
        template: Option<PathBuf>,
        /// Where the function binaries and opsctl are [default: devstack's own directory]
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Where scripts/install put DynamoDB Local and moto [default: target/tools]
        #[arg(long)]
        tools_dir: Option<PathBuf>,
        /// Stop when stdin reaches end of file (for tests: the stack dies with its parent)
        #[arg(long)]
        exit_on_stdin_close: bool,
        /// Also copy function output and every request line to stderr
        #[arg(long, short)]
        verbose: bool,
        /// Concurrent execution environments per function
        #[arg(long, default_value_t = 8)]
        max_concurrency: usize,
        /// Stage throttling as API Gateway does it: RATE requests per second, BURST at once;
        /// over it the template's THROTTLED response (429). Off by default
        #[arg(long, value_name = "RATE,BURST")]
        stage_throttle: Option<throttle::Limits>,
        /// Set an environment variable of every function, over the template's (repeatable;
        /// what `sam local --env-vars` does), e.g. `--function-env QUOTE_VALIDITY_SECONDS=3`, or a
        /// shorter webhook retry schedule: `WEBHOOK_RETRY_DELAYS_SECONDS=1,1,1,1,1,1,1,1,1,1,1,1`
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_env_pair)]
        function_env: Vec<(String, String)>,

        /// Put a fault-injecting proxy between the functions and DynamoDB Local, e.g.
        /// `throttle=0.05,500=0.02,503=0.02,timeout=0.01,reset=0.02,lost=0.02` or `off` (the
        /// spec can be changed at run time: PUT <dynamodb_fault_proxy>/__faults; see faults.rs)
        #[arg(long, value_name = "SPEC")]
        dynamodb_faults: Option<String>,
        /// The same between the functions and the Secrets Manager emulator
        #[arg(long, value_name = "SPEC")]
        secretsmanager_faults: Option<String>,
        /// Every SQS queue's visibility timeout, instead of the template's (for tests)
        #[arg(long, value_name = "SECONDS")]
        queue_visibility_timeout: Option<u64>,
    },
    /// Print the routes the gateway would serve, as JSON
    Routes {
        /// The SAM template [default: infra/template.yaml]
        #[arg(long)]
        template: Option<PathBuf>,
    },
}

/// The repository: the first ancestor of the current directory, else of the executable's
/// directory, that holds `infra/template.yaml`.
fn repo_root() -> Option<PathBuf> {
    let holds = |d: &Path| d.join("infra/template.yaml").is_file();
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(d) = cwd.ancestors().find(|d| holds(d)) {
            return Some(d.to_path_buf());
        }
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().find(|d| holds(d)).map(Path::to_path_buf)
}

fn default_path(given: Option<PathBuf>, relative: &str) -> Result<PathBuf, String> {
    match given {
        Some(p) => Ok(p),
        None => repo_root().map(|r| r.join(relative)).ok_or_else(|| {
            format!(
                "cannot find the repository (a directory holding infra/template.yaml) to default {relative}; \
                 run from inside it or pass the path"
            )
        }),
    }
}

/// `NAME=VALUE` of `--function-env`.
fn parse_env_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value))
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok((name.to_string(), value.to_string()))
        }
        _ => Err(format!(
            "{s:?}: use NAME=VALUE (NAME of A-Z, a-z, 0-9 and _)"
        )),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn routes(template: Option<PathBuf>) -> Result<(), String> {
    let path = default_path(template, "infra/template.yaml")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = template::Template::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    print_out(&(serde_json::to_string_pretty(&t.routes).expect("serializable") + "\n"));
    Ok(())
}

async fn up(cmd: Command) -> Result<(), String> {
    let Command::Up {
        port,
        state_dir,
        template,
        bin_dir,
        tools_dir,
        exit_on_stdin_close,
        verbose,
        max_concurrency,
        stage_throttle,
        function_env,

        dynamodb_faults,
        secretsmanager_faults,
        queue_visibility_timeout,
    } = cmd
    else {
        unreachable!("called for up only")
    };
    let bin_dir = match bin_dir {
        Some(d) => d,
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find devstack's own directory: {e}"))?
            .parent()
            .map(Path::to_path_buf)
            .ok_or("cannot find devstack's own directory")?,
    };
    stack::up(stack::UpOptions {
        port,
        state_dir: default_path(state_dir, "target/local")?,
        template: default_path(template, "infra/template.yaml")?,
        bin_dir,
        tools_dir: default_path(tools_dir, "target/tools")?,
        exit_on_stdin_close,
        verbose,
        max_concurrency,
        stage_throttle,
        function_env,

        dynamodb_faults: dynamodb_faults
            .map(|s| faults::FaultSpec::parse(&s))
            .transpose()?,
        secretsmanager_faults: secretsmanager_faults
            .map(|s| faults::FaultSpec::parse(&s))
            .transpose()?,
        queue_visibility_timeout,
    })
    .await
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Routes { template } => routes(template),
        up_command @ Command::Up { .. } => {
            // One thread: every child process is spawned from the thread that lives as long as
            // devstack, which is what PR_SET_PDEATHSIG watches (see `procs`).
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let result = runtime.block_on(up(up_command));
            // A read of stdin (--exit-on-stdin-close) sits on a blocking thread that only ends
            // with the stream; dropping the runtime would wait for it forever.
            runtime.shutdown_background();
            result
        }
    };
    if let Err(e) = result {
        eprintln!("devstack: error: {e}");
        std::process::exit(1);
    }
}
