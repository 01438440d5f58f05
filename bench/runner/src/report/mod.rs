//! Figures, targets, cost, and the Markdown the command prints and writes to bench/RESULTS.md.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde_yaml::Value as Yaml;

mod cost;
mod hot_keys;

use cost::{before_after, cost};
use hot_keys::hot_keys;

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    /// Mean of each sample rounded up to a whole millisecond (Lambda's billed duration).
    pub billed_mean: f64,
}

impl Stats {
    pub fn of(xs: &[f64]) -> Stats {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            n: v.len(),
            min: v[0],
            p50: q(0.5),
            p99: q(0.99),
            billed_mean: v.iter().map(|x| x.ceil().max(1.0)).sum::<f64>() / v.len() as f64,
        }
    }
}

pub struct InitRow {
    pub name: String,
    pub stats: Stats,
    /// The same without SSL_CERT_FILE (the distribution's default certificate lookup).
    pub default_certs: Stats,
    pub floor: f64,
    pub floor_what: String,
}

pub struct Endpoint {
    pub name: String,
    pub function: String,
    pub calls: usize,
    pub failed: usize,
    pub e2e: Option<Stats>,
    pub duration: Stats,
    /// The handler's own time as it logged it (`latency_ms`; not logged by the authorizer).
    pub handler: Stats,
    /// The handler's time less its DynamoDB attempts, per request (`latency_ms − dynamodb_ms`).
    pub own: Stats,
    pub floor: Stats,
    pub floor_ops: String,
    pub round_trips: Vec<f64>,
    pub secrets_round_trips: Vec<f64>,
    pub read_units: Vec<f64>,
    pub write_units: Vec<f64>,
    /// Target round trips, reads, writes.
    pub target: (u32, u32, u32),
}

pub struct ThroughputRow {
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub rps: f64,
    pub latency: Stats,
    pub first_error: Option<String>,
}

pub struct SizeRow {
    pub name: String,
    pub bytes: u64,
    pub arm64: bool,
}

#[derive(Default)]
pub struct Results {
    pub init: Vec<InitRow>,
    pub secret_read: Stats,
    pub endpoints: Vec<Endpoint>,
    pub throughput: Vec<ThroughputRow>,
    pub sizes: Vec<SizeRow>,
    pub arm64_note: Option<String>,
    pub max_rss_mb: BTreeMap<String, Option<f64>>,
    pub memory_mb: BTreeMap<String, u64>,
    pub build_seconds: Option<u64>,
    pub run_seconds: u64,
    /// The sample delivery item (after 5 tracking updates) and its copy in a list index, in bytes.
    pub item_bytes: (usize, usize),
    /// Write units per call of the floor's writes, by kind of write, then by table or index.
    pub index_units: BTreeMap<&'static str, BTreeMap<String, Vec<f64>>>,
    /// The CA bundle given as SSL_CERT_FILE in the init runs.
    pub cert_bundle: Option<String>,
    /// The webhooks section (issue 14), rendered by `webhooks::measure`.
    pub webhooks: Option<String>,
}

/// Published AWS on-demand prices, US East (N. Virginia), as looked up on the date given.
pub struct Prices;
impl Prices {
    pub const DATE: &'static str = "2026-11-25";
    /// Lambda arm64 duration, first 7.5 billion GB-s a month.
    pub const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    pub const LAMBDA_PER_M_REQUESTS: f64 = 0.20;
    /// API Gateway REST API, first 333 million requests a month.
    pub const APIGW_REST_PER_M: f64 = 3.50;
    /// DynamoDB on-demand (prices since 2024-11-01).
    pub const DDB_PER_M_WRU: f64 = 0.625;
    pub const DDB_PER_M_RRU: f64 = 0.125;
    /// S3 Standard PUT, COPY, POST, LIST requests: $0.005 per 1,000.
    pub const S3_PER_M_PUT_LIST: f64 = 5.00;
}

/// Claims per delivery lifecycle in the cost (issue 13: a 2 % claim rate).
pub const CLAIM_RATE: f64 = 0.02;

/// Memory size per binary from the template (Globals, overridden per function).
pub fn memory_sizes(template: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(template) else {
        return out;
    };
    let Ok(doc) = serde_yaml::from_str::<Yaml>(&text) else {
        return out;
    };
    let global = doc["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .unwrap_or(128);
    if let Some(resources) = doc["Resources"].as_mapping() {
        for (_, r) in resources {
            if r["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            if let Some(bin) = r["Metadata"]["BuildProperties"]["Binary"].as_str() {
                let mem = r["Properties"]["MemorySize"].as_u64().unwrap_or(global);
                out.insert(bin.to_string(), mem);
            }
        }
    }
    out
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}
fn f2(x: f64) -> String {
    format!("{x:.2}")
}

fn range(xs: &[f64]) -> String {
    if xs.is_empty() {
        return "no log lines".into();
    }
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let fmt = |x: f64| {
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    if min == max {
        fmt(min)
    } else {
        format!("{}–{}", fmt(min), fmt(max))
    }
}

/// The count most calls made, and how many calls made more: "2", or "2 (3 in 1 of 200 calls)".
fn typical(xs: &[f64]) -> (f64, String) {
    if xs.is_empty() {
        return (f64::NAN, "no log lines".into());
    }
    let median = Stats::of(xs).p50;
    let above: Vec<f64> = xs.iter().copied().filter(|x| *x > median).collect();
    if above.is_empty() {
        return (median, range(&[median]));
    }
    let text = format!(
        "{} ({} in {} of {} calls)",
        range(&[median]),
        range(&above),
        above.len(),
        xs.len()
    );
    (median, text)
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string();
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem_gb:.0} GiB, {} {}; load average at the end {load}; {rustc}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "**MISS**"
    }
}

pub fn render(r: &Results) -> String {
    let now = time::OffsetDateTime::now_utc();
    let mut o = String::new();
    let _ = writeln!(o, "# Benchmark results\n");
    let _ = writeln!(
        o,
        "Generated by `scripts/bench` on {} UTC. Machine: {}.\n",
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        machine()
    );
    let _ = writeln!(
        o,
        "Release profile of the root `Cargo.toml`; x86_64 binaries run locally (init, latency, \
         throughput), arm64 bootstraps for sizes. The local stack is devstack (local API Gateway + \
         Lambda Runtime API) with DynamoDB Local and moto: absolute figures are this machine's, the \
         point is each figure beside its floor measured in the same run.\n"
    );

    // init
    let _ = writeln!(
        o,
        "## Init (process start → first `GET /runtime/invocation/next`)\n"
    );
    let _ = writeln!(
        o,
        "Floor: hello-world `lambda_http` function (same profile) plus, for token and authorizer, one \
         Secrets Manager read by a new client (p50 {} ms). Target: ≤ floor + 5 ms. The AWS SDK \
         loads the system's CA certificates when its clients are built; runs use \
         `SSL_CERT_FILE={}` so that they are read once, as on Lambda's provided.al2023 (whose \
         certificate directory holds just the bundle). The last column is the same function with \
         this machine's default lookup (bundle + every hashed link of `/etc/ssl/certs`, i.e. each \
         certificate twice on Debian).\n",
        f2(r.secret_read.p50),
        r.cert_bundle.as_deref().unwrap_or("(none found)")
    );
    let _ = writeln!(
        o,
        "| function | runs | min ms | p50 ms | floor ms (what) | over floor ms | target | p50 ms, default cert lookup |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for i in &r.init {
        let over = i.stats.p50 - i.floor;
        let target = if i.name == "hello" {
            "-".to_string()
        } else {
            mark(over <= 5.0).to_string()
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} ({}) | {} | {} | {} |",
            i.name,
            i.stats.n,
            f2(i.stats.min),
            f2(i.stats.p50),
            f2(i.floor),
            i.floor_what,
            if i.name == "hello" {
                "-".into()
            } else {
                f2(over)
            },
            target,
            f2(i.default_certs.p50)
        );
    }

    // round trips and capacity
    let _ = writeln!(
        o,
        "\n## DynamoDB round trips and consumed capacity per call (warm)\n"
    );
    let _ = writeln!(
        o,
        "Counted inside each function by the SDK interceptor (`shared::metrics`), capacity as \
         DynamoDB reports it (`ReturnConsumedCapacity=TOTAL`, request units incl. indexes), read \
         from the functions' request log lines. Round trips: what most calls made, the target \
         judged on it; calls above it are the caller re-check: a warm container re-reads the \
         client and partner items (one BatchGetItem, 2 RRU) at most every 10 s, so that a revoked \
         client or a suspended partner is refused within 10 s (README \"Operating\"), the first \
         call of each phase here. Per container and time, not per call.\n"
    );
    let _ = writeln!(
        o,
        "| endpoint | calls | round trips | RRU | WRU | Secrets Manager | target | |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
    for e in &r.endpoints {
        let (rt, reads, writes) = e.target;
        let (usual, round_trips) = typical(&e.round_trips);
        let ok = usual == rt as f64 && e.secrets_round_trips.iter().all(|x| *x == 0.0);
        let target = match (reads, writes) {
            (0, 0) => "0".to_string(),
            (1, 0) => "1 read".to_string(),
            (r, 0) => format!("{r} reads side by side"),
            (0, w) => format!("{w} write"),
            (r, w) => format!("{r} read + {w} write"),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            e.round_trips.len(),
            round_trips,
            range(&e.read_units),
            range(&e.write_units),
            range(&e.secrets_round_trips),
            target,
            mark(ok)
        );
    }

    let _ = writeln!(
        o,
        "\nItem sizes (DynamoDB's count): a delivery after 5 tracking updates ≈ {} bytes (its \
         submission, policy and events compressed inside it), its copy in a list index ≈ {} \
         bytes. A write costs 1 WRU per started KB of the item written, once for the table and \
         once per index whose key or projected attributes it changes (`list-created` and \
         `list-status` project ALL, `by-policy` keys only; a status change moves the item \
         between `list-status` keys: a delete and a put); a transaction costs \
         twice that (tracking uses one only when a delivery's events outgrow {} compressed \
         bytes). A strongly consistent read costs 1 RRU per started 4 KB. The tracking row is \
         the mean over whole lifecycles ({}).\n",
        r.item_bytes.0,
        r.item_bytes.1,
        shared::store::INLINE_EVENTS_MAX_BYTES,
        crate::LIFECYCLE.join(", ")
    );
    o.push_str(&before_after(r));
    o.push_str(&hot_keys(r));

    // latency
    let _ = writeln!(o, "\n## Warm latency per endpoint\n");
    let _ = writeln!(
        o,
        "Sequential calls through the local gateway (client → gateway → Lambda Runtime API → \
         function → DynamoDB Local). *e2e*: as the client sees it. *Invocation*: the function's \
         duration as devstack reports it (`REPORT Duration`: event handed to the runtime until the \
         response came back, so it includes the Runtime API hops and the event's (de)serialisation). \
         *Handler*: the handler's own time as the function logs it (`latency_ms`: request parsed → \
         response built). *Floor*: the DynamoDB round trips the endpoint needs, made with the SDK \
         directly in this run on copies of the same items. Handler overhead = handler p50 − floor \
         p50 (authorizer: invocation p50, its floor is no round trip); target < 1 ms. *Own time*: \
         the same overhead measured inside each request instead (`latency_ms − dynamodb_ms`, the \
         time its DynamoDB attempts were in flight as the SDK interceptor adds it up, side-by-side \
         attempts once): where it is small and \
         the overhead is not, DynamoDB Local took longer on the endpoint's items than on the \
         floor's copies. The invocation − floor column adds the Runtime API hops.\n"
    );
    let _ = writeln!(
        o,
        "| endpoint | e2e p50 / p99 ms | invocation p50 / p99 ms | handler p50 ms | floor (ops) | floor p50 / p99 ms | handler overhead p50 ms | target | own time p50 / p99 ms | invocation − floor p50 ms |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|");
    for e in &r.endpoints {
        let handler = if e.handler.n > 0 {
            e.handler.p50
        } else {
            e.duration.p50
        };
        let over = handler - e.floor.p50;
        let e2e = e
            .e2e
            .as_ref()
            .map(|s| format!("{} / {}", f2(s.p50), f2(s.p99)))
            .unwrap_or("-".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} / {} | {} | {} | {} / {} | {} | {} | {} | {} |",
            e.name,
            e2e,
            f2(e.duration.p50),
            f2(e.duration.p99),
            if e.handler.n > 0 {
                f2(e.handler.p50)
            } else {
                "-".into()
            },
            e.floor_ops,
            f2(e.floor.p50),
            f2(e.floor.p99),
            f2(over),
            mark(over < 1.0),
            if e.own.n > 0 {
                format!("{} / {}", f2(e.own.p50), f2(e.own.p99))
            } else {
                "-".into()
            },
            f2(e.duration.p50 - e.floor.p50)
        );
        if e.failed > 0 {
            let _ = writeln!(
                o,
                "| ↳ {} of {} calls failed | | | | | | | | | |",
                e.failed, e.calls
            );
        }
    }

    // throughput
    let _ = writeln!(o, "\n## Throughput, mixed partner workload\n");
    let _ = writeln!(
        o,
        "Each client runs delivery lifecycles (submit, 5 tracking updates, 1 read) and takes a new \
         token every 100 calls. devstack runs at most 8 execution environments per function (its \
         default); beyond that, invocations queue.\n"
    );
    let _ = writeln!(
        o,
        "| clients | requests | errors | req/s | p50 ms | p99 ms |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for t in &r.throughput {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            t.clients,
            t.requests,
            t.errors,
            f1(t.rps),
            f2(t.latency.p50),
            f2(t.latency.p99)
        );
    }
    for t in r.throughput.iter().filter(|t| t.first_error.is_some()) {
        let _ = writeln!(
            o,
            "\nFirst error at {} clients: `{}`",
            t.clients,
            t.first_error.as_deref().unwrap_or_default()
        );
    }

    // sizes and memory
    let _ = writeln!(o, "\n## Binary size, memory, duration per function\n");
    if let Some(note) = &r.arm64_note {
        let _ = writeln!(o, "{note}\n");
    }
    let _ = writeln!(
        o,
        "Size target: ≤ 10 MB per bootstrap. Peak RSS: VmHWM of the function's processes at the end \
         of the run (x86_64). Durations: all invocations of the endpoint phases above.\n"
    );
    let _ = writeln!(
        o,
        "| function | bootstrap | MiB | target | peak RSS MiB | template MemorySize MB | invocation p50 / p99 ms |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for s in &r.sizes {
        let mib = s.bytes as f64 / 1024.0 / 1024.0;
        let durations: Vec<String> = r
            .endpoints
            .iter()
            .filter(|e| e.function == s.name)
            .map(|e| format!("{} / {}", f2(e.duration.p50), f2(e.duration.p99)))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            if s.arm64 {
                "arm64"
            } else {
                "x86_64 (no arm64 build)"
            },
            f2(mib),
            if s.name == "hello" {
                "-"
            } else {
                mark(s.bytes as f64 <= 10.0 * 1000.0 * 1000.0)
            },
            r.max_rss_mb
                .get(&s.name)
                .copied()
                .flatten()
                .map(f1)
                .unwrap_or("-".into()),
            r.memory_mb
                .get(&s.name)
                .map(|m| m.to_string())
                .unwrap_or("-".into()),
            if durations.is_empty() {
                "-".into()
            } else {
                durations.join(", ")
            }
        );
    }

    // cost
    let _ = writeln!(
        o,
        "\n## Cost per one million delivery lifecycles (claims on 2 % of them)\n"
    );
    o.push_str(&cost(r));

    if let Some(w) = &r.webhooks {
        let _ = writeln!(o);
        o.push_str(w);
    }

    let _ = writeln!(o, "\n## This run\n");
    if let Some(b) = r.build_seconds {
        let _ = writeln!(o, "- release build(s): {b} s");
    }
    let _ = writeln!(o, "- measurements: {} s", r.run_seconds);
    o
}

#[cfg(test)]
mod tests {
    use super::typical;

    #[test]
    fn typical_round_trips_name_the_calls_above_the_median() {
        assert_eq!(typical(&[2.0, 2.0, 2.0]), (2.0, "2".to_string()));
        let mut xs = vec![2.0; 199];
        xs.push(3.0);
        assert_eq!(typical(&xs), (2.0, "2 (3 in 1 of 200 calls)".to_string()));
        assert_eq!(typical(&[]).1, "no log lines");
    }
}
