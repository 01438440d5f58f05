//! `opsctl`: the operator's tool. Partners and their clients (onboard, list, show, subscriptions,
//! secret rotation, revocation, suspension), signature keys, JWT signing keys, products, and the
//! audit log of every change. README "Operating" shows each command with an example.
//!
//! Targets: the local stack (`--stack-file target/local/stack.json`, or `--env local`) or a
//! deployed stack (`--env staging|production`, with the operator's AWS credentials; see
//! `target.rs`). Every command takes `--json`; commands that take something away ask for
//! confirmation unless `--yes`. Every change is written together with its audit entry (one
//! DynamoDB transaction), so there is no change without its record. Secrets are printed only
//! when they are created (a kit, a rotated secret or key) and never enter the audit log.

mod ops;
mod target;
mod template;

use std::io::IsTerminal;
use std::path::PathBuf;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use shared::keys::{LinkKeyRecord, SigningKeySet};
use shared::store::Store;

use target::Target;

#[derive(Parser)]
#[command(
    name = "opsctl",
    version,
    about = "Operate the partner insurance API: partners, clients, keys, products, audit log",
    after_help = "Examples:\n  opsctl --env local partner list\n  opsctl --env staging client revoke cli_0123 --reason 'leaked secret'\n  opsctl --env production audit list --partner ptn_01h... --since 2026-11-01T00:00:00Z"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
pub struct Global {
    /// Print the result as one JSON object (errors too, as {"error": ...}).
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask for confirmation (commands that revoke, suspend, rotate or change terms).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Who is acting, recorded in the audit log (default: your AWS identity on a deployed stack, `local:$USER` locally).
    #[arg(long, global = true, env = "OPSCTL_ACTOR")]
    pub actor: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the DynamoDB table from the `Table` resource of the SAM template (local stacks; a deployed table is made by CloudFormation).
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// JWT signing keys and the link key in Secrets Manager.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Insurance products.
    Product {
        #[command(subcommand)]
        command: ops::ProductCommand,
    },
    /// Partners: onboard, list, show, suspend, reactivate, rotate the signature key.
    Partner {
        #[command(subcommand)]
        command: ops::PartnerCommand,
    },
    /// A partner's OAuth clients: create, subscriptions, secret rotation, revocation.
    Client {
        #[command(subcommand)]
        command: ops::ClientCommand,
    },
    /// A partner's webhook endpoints: list, disable, enable, delivery attempts.
    Webhook {
        #[command(subcommand)]
        command: ops::WebhookCommand,
    },
    /// The audit log of operator actions.
    Audit {
        #[command(subcommand)]
        command: ops::AuditCommand,
    },
    /// Move a deployed table to the layout of issue 17 (README "Migrating a deployed table (issue 17)").
    Migrate {
        #[command(subcommand)]
        command: ops::MigrateCommand,
    },
    /// Claims: list, show (with document download links), review, request information, approve, reject, pay.
    Claim {
        #[command(subcommand)]
        command: ops::ClaimCommand,
    },
    /// Create an S3 bucket of the SAM template (local stacks; a deployed bucket is made by CloudFormation).
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
    },
}

#[derive(Subcommand)]
enum BucketCommand {
    /// Create the bucket and apply the resource's access block, ownership, encryption and versioning (does nothing if it exists).
    Create {
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
        /// The bucket's logical id in the template.
        #[arg(long)]
        resource: String,
        /// The bucket's name here.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the table (does nothing if it exists).
    Create {
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Put a first JWT signing key and a link key into their secrets, unless they already hold keys.
    Init,
    /// Rotate the JWT signing key: a new key starts signing 15 s later; tokens signed by earlier keys stay valid until they expire.
    Rotate {
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
}

pub type Failure = String;

/// What a command produced: a JSON value for `--json`, and lines for people.
pub struct Outcome {
    pub json: Value,
    pub text: String,
}

pub struct Ctx {
    pub target: Target,
    pub global: Global,
    pub store: Store,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// S3 (claim documents); path-style against a local endpoint.
    pub s3: aws_sdk_s3::Client,
    sdk: aws_config::SdkConfig,
}

impl Ctx {
    async fn new(target: Target, global: Global) -> Result<Ctx, Failure> {
        let target = target.resolve().await?;
        let table = target.table_name.clone().ok_or(
            "no table: pass --env local|staging|production, --stack-file target/local/stack.json for the local stack, \
             or --table-name (the stack's TableName output)",
        )?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &target.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        let sdk = loader.load().await;
        let mut ddb = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let Some(e) = &target.dynamodb_endpoint {
            ddb = ddb.endpoint_url(e);
        }
        let mut sm = aws_sdk_secretsmanager::config::Builder::from(&sdk);
        if let Some(e) = &target.secretsmanager_endpoint {
            sm = sm.endpoint_url(e);
        }
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk);
        if let Some(e) = &target.s3_endpoint {
            s3 = s3.endpoint_url(e).force_path_style(true);
        }
        Ok(Ctx {
            store: Store::new(aws_sdk_dynamodb::Client::from_conf(ddb.build()), table),
            secrets: aws_sdk_secretsmanager::Client::from_conf(sm.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            target,
            global,
            sdk,
        })
    }

    pub fn secret_id(v: &Option<String>, flag: &str) -> Result<String, Failure> {
        v.clone().ok_or_else(|| {
            format!("no secret id: pass --{flag} (a stack output), --env or --stack-file")
        })
    }

    /// Who is acting: on a deployed stack, the caller's AWS identity (plus `--actor` if given);
    /// locally, `--actor` or `local:$USER`.
    pub async fn actor(&self) -> Result<String, Failure> {
        if self.target.is_local() {
            return Ok(self.global.actor.clone().unwrap_or_else(|| {
                format!(
                    "local:{}",
                    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
                )
            }));
        }
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let arn = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot establish who you are for the audit log: {}\nnext: check your AWS credentials (`aws sts get-caller-identity`)",
                    aws_sdk_sts::error::DisplayErrorContext(&e)
                )
            })?
            .arn()
            .unwrap_or("unknown")
            .to_string();
        Ok(match &self.global.actor {
            Some(a) => format!("{arn} ({a})"),
            None => arn,
        })
    }

    /// Ask before a destructive action unless `--yes`; refuse when nobody can answer.
    pub fn confirm(&self, what: &str) -> Result<(), Failure> {
        if self.global.yes {
            return Ok(());
        }
        let place = self.target.describe();
        if !std::io::stdin().is_terminal() {
            return Err(format!(
                "refusing to {what} in {place} without confirmation: stdin is not a terminal\nnext: re-run with --yes if you mean it"
            ));
        }
        eprint!("About to {what} in {place}. Type 'yes' to continue: ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if answer.trim().eq_ignore_ascii_case("yes") {
            Ok(())
        } else {
            Err(format!("not confirmed: nothing was changed ({what})"))
        }
    }
}

pub fn store_err(e: shared::store::StoreError) -> Failure {
    use shared::store::StoreError as E;
    match e {
        E::Conflict => "the record changed while this command ran (another operator?), or it is not in the state this command expects; nothing was changed\nnext: look at it again (`opsctl partner show ...`) and re-run the command".into(),
        E::Unavailable(d) => format!("DynamoDB is unavailable: {d}\nnext: check the target (--env / --stack-file), your AWS credentials and network, then re-run; nothing was changed"),
        E::Internal(d) => format!("DynamoDB rejected the request: {d}"),
    }
}

async fn create_table(ctx: &Ctx, template: &std::path::Path) -> Result<Outcome, Failure> {
    let req = template::create_table(ctx.store.client(), template, ctx.store.table())?;
    let table = ctx.store.table().to_string();
    let status = match req.send().await {
        Ok(_) => "created",
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ResourceInUseException") => {
            "exists"
        }
        Err(e) => {
            return Err(format!(
                "creating table: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ))
        }
    };
    let ttl = match template::ttl_attribute(template)? {
        Some(attribute) => Some(enable_ttl(ctx, &attribute).await?),
        None => None,
    };
    let ttl_text = ttl
        .as_ref()
        .map(|a| format!("; TTL on {a}"))
        .unwrap_or_default();
    Ok(Outcome {
        json: serde_json::json!({"table": table, "status": status, "ttl_attribute": ttl}),
        text: match status {
            "created" => format!(
                "table {table} created from {}{ttl_text}",
                template.display()
            ),
            _ => format!("table {table} already exists{ttl_text}"),
        },
    })
}

/// Switch TTL on for `attribute` unless it is on already (as the template's
/// `TimeToLiveSpecification` does for a deployed table).
async fn enable_ttl(ctx: &Ctx, attribute: &str) -> Result<String, Failure> {
    use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
    let client = ctx.store.client();
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what} time to live: {e}");
    let current = client
        .describe_time_to_live()
        .table_name(ctx.store.table())
        .send()
        .await
        .map_err(|e| fail("reading", &aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    let on = current.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(attribute)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if !on {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| fail("building", &e))?;
        client
            .update_time_to_live()
            .table_name(ctx.store.table())
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| {
                fail(
                    "enabling",
                    &aws_sdk_dynamodb::error::DisplayErrorContext(&e),
                )
            })?;
    }
    Ok(attribute.to_string())
}

/// Make sure a secret holds a value `valid` accepts; otherwise create it or put `fresh()`.
async fn ensure_secret(
    sm: &aws_sdk_secretsmanager::Client,
    id: &str,
    valid: impl Fn(&str) -> bool,
    fresh: impl Fn() -> String,
) -> Result<&'static str, Failure> {
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError as G;
    match sm.get_secret_value().secret_id(id).send().await {
        Ok(out) if out.secret_string().is_some_and(&valid) => Ok("kept"),
        Ok(_) => {
            sm.put_secret_value()
                .secret_id(id)
                .secret_string(fresh())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "writing secret {id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            Ok("initialised")
        }
        Err(e) if matches!(e.as_service_error(), Some(G::ResourceNotFoundException(_))) => {
            sm.create_secret()
                .name(id)
                .secret_string(fresh())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "creating secret {id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            Ok("created")
        }
        Err(e) => Err(format!(
            "reading secret {id}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        )),
    }
}

async fn keys_init(ctx: &Ctx) -> Result<Outcome, Failure> {
    let signing = Ctx::secret_id(&ctx.target.signing_keys_secret_id, "signing-keys-secret-id")?;
    let s_what = ensure_secret(
        &ctx.secrets,
        &signing,
        |s| serde_json::from_str::<SigningKeySet>(s).is_ok_and(|k| !k.keys.is_empty()),
        || {
            let mut set = SigningKeySet::default();
            set.rotate();
            serde_json::to_string(&set).expect("serialises")
        },
    )
    .await?;
    let link = Ctx::secret_id(&ctx.target.link_key_secret_id, "link-key-secret-id")?;
    let l_what = ensure_secret(
        &ctx.secrets,
        &link,
        |s| serde_json::from_str::<LinkKeyRecord>(s).is_ok_and(|k| k.bytes().is_ok()),
        || serde_json::to_string(&LinkKeyRecord::generate()).expect("serialises"),
    )
    .await?;
    let mut json = serde_json::json!({"signing_keys_secret": {"id": signing, "status": s_what}, "link_key_secret": {"id": link, "status": l_what}});
    let mut text =
        format!("signing keys secret {signing}: {s_what}\nlink key secret {link}: {l_what}");
    // Webhooks (issue 14): the key that seals endpoint secrets (same form as the link key).
    if let Some(webhook) = &ctx.target.webhook_key_secret_id {
        let w_what = ensure_secret(
            &ctx.secrets,
            webhook,
            |s| serde_json::from_str::<LinkKeyRecord>(s).is_ok_and(|k| k.bytes().is_ok()),
            || serde_json::to_string(&LinkKeyRecord::generate()).expect("serialises"),
        )
        .await?;
        json["webhook_key_secret"] = serde_json::json!({"id": webhook, "status": w_what});
        text.push_str(&format!("\nwebhook key secret {webhook}: {w_what}"));
    }
    Ok(Outcome { json, text })
}

async fn run(cli: Cli) -> Result<Outcome, Failure> {
    if let Command::Migrate { command } = &cli.command {
        if let Some(out) = ops::template_command(command) {
            return out;
        }
    }
    let ctx = Ctx::new(cli.target, cli.global).await?;
    match cli.command {
        Command::Table {
            command: TableCommand::Create { template },
        } => create_table(&ctx, &template).await,
        Command::Keys { command } => match command {
            KeysCommand::Init => keys_init(&ctx).await,
            KeysCommand::Rotate { reason } => ops::keys_rotate(&ctx, reason).await,
        },
        Command::Product { command } => ops::product(&ctx, command).await,
        Command::Partner { command } => ops::partner(&ctx, command).await,
        Command::Client { command } => ops::client(&ctx, command).await,
        Command::Audit { command } => ops::audit(&ctx, command).await,
        Command::Migrate { command } => ops::migrate(&ctx, command).await,
        Command::Webhook { command } => ops::webhook(&ctx, command).await,
        Command::Claim { command } => ops::claim(&ctx, command).await,
        Command::Bucket {
            command:
                BucketCommand::Create {
                    template,
                    resource,
                    name,
                },
        } => template::create_bucket(&ctx.s3, &template, &resource, &name).await,
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(out) => {
            if json {
                println!("{}", out.json);
            } else if !out.text.is_empty() {
                println!("{}", out.text);
            }
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"error": e}));
            }
            eprintln!("opsctl: {e}");
            std::process::exit(1);
        }
    }
}
