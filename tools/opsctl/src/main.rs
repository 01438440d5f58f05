//! `opsctl`: the operator's tool. Creates the table from the SAM template, initialises the key
//! secrets, creates products and onboards partners, printing their credentials kit.
//!
//! Targets: the local stack (`--stack-file target/local/stack.json`, written by devstack) or a
//! deployed stack (`--table`, `--region`, `--signing-keys-secret-id`, `--link-key-secret-id`,
//! `--api-base-url`, with the operator's AWS credentials; each flag also reads an environment variable).

mod template;

use std::path::PathBuf;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::auth::{Scope, Scopes};
use shared::domain::{PremiumRule, Product, ProductCode};
use shared::keys::{random_bytes, LinkKeyRecord, SigningKeySet};
use shared::oauth::hash_secret;
use shared::store::{ClientRecord, PartnerRecord, Store};
use shared::time_fmt;

#[derive(Parser)]
#[command(
    name = "opsctl",
    version,
    about = "Operate the partner insurance API: table, keys, products, partners"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Default, Deserialize)]
struct Target {
    /// The local stack's description (written by `devstack up`); sets endpoints, table, secrets and URLs.
    #[arg(long, global = true, env = "PARTNER_API_STACK_FILE")]
    #[serde(skip)]
    stack_file: Option<PathBuf>,
    /// DynamoDB table name (a deployed stack's `TableName` output).
    #[arg(long, global = true, env = "PARTNER_API_TABLE")]
    table_name: Option<String>,
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,
    #[arg(long, global = true, env = "PARTNER_API_SIGNING_KEYS_SECRET_ID")]
    signing_keys_secret_id: Option<String>,
    #[arg(long, global = true, env = "PARTNER_API_LINK_KEY_SECRET_ID")]
    link_key_secret_id: Option<String>,
    /// The API base URL partners call, ending in /api/v1 (goes into credentials kits).
    #[arg(long, global = true, env = "PARTNER_API_BASE_URL")]
    api_base_url: Option<String>,
    /// The token URL (defaults to the API base URL's origin + /oauth/token).
    #[arg(long, global = true, env = "PARTNER_API_TOKEN_URL")]
    token_url: Option<String>,
    #[arg(skip)]
    dynamodb_endpoint: Option<String>,
    #[arg(skip)]
    secretsmanager_endpoint: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the DynamoDB table from the `Table` resource of the SAM template (local stacks; a deployed table is made by CloudFormation).
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// Key material in Secrets Manager.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Insurance products.
    Product {
        #[command(subcommand)]
        command: ProductCommand,
    },
    /// Partners and their credentials.
    Partner {
        #[command(subcommand)]
        command: PartnerCommand,
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
}

#[derive(Subcommand)]
enum ProductCommand {
    /// Create or update a product.
    Put {
        #[arg(long)]
        code: String,
        /// ISO 4217 currency code; amounts are integers in its smallest unit.
        #[arg(long)]
        currency: String,
        #[arg(long)]
        max_item_value: u64,
        /// Premium rate on item_value in basis points (50 = 0.5 %).
        #[arg(long)]
        premium_rate_bps: u32,
        #[arg(long)]
        min_premium: u64,
        #[arg(long)]
        json: bool,
    },
    /// List products.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PartnerCommand {
    /// Onboard a partner: create it with one client and print its credentials kit (the secret is shown once).
    Onboard {
        #[arg(long)]
        name: String,
        /// Comma-separated: insurance, tracking, control_tower.
        #[arg(long, default_value = "insurance,tracking,control_tower")]
        subscriptions: String,
        /// Print the kit as one JSON object.
        #[arg(long)]
        json: bool,
        /// Also write the kit as JSON to this file (mode 0600).
        #[arg(long)]
        kit_file: Option<PathBuf>,
    },
}

/// The credentials kit handed to a partner.
#[derive(Serialize)]
struct Kit {
    partner_id: String,
    client_id: String,
    client_secret: String,
    api_token_key: String,
    subscriptions: Vec<String>,
    token_url: String,
    api_base_url: String,
}

type Failure = String;

struct Ctx {
    target: Target,
    store: Store,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Ctx {
    async fn new(mut target: Target) -> Result<Ctx, Failure> {
        if let Some(path) = target.stack_file.clone() {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read stack file {}: {e}; is the local stack running (scripts/run)?",
                    path.display()
                )
            })?;
            let file: Target = serde_json::from_str(&text)
                .map_err(|e| format!("stack file {} is not valid: {e}", path.display()))?;
            target = Target {
                stack_file: Some(path),
                table_name: target.table_name.or(file.table_name),
                region: file.region.or(target.region),
                signing_keys_secret_id: target
                    .signing_keys_secret_id
                    .or(file.signing_keys_secret_id),
                link_key_secret_id: target.link_key_secret_id.or(file.link_key_secret_id),
                api_base_url: target.api_base_url.or(file.api_base_url),
                token_url: target.token_url.or(file.token_url),
                dynamodb_endpoint: file.dynamodb_endpoint,
                secretsmanager_endpoint: file.secretsmanager_endpoint,
            };
            // The local emulators accept any credentials.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                std::env::set_var("AWS_ACCESS_KEY_ID", "local");
                std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
            }
        }
        let table = target
            .table_name
            .clone()
            .ok_or("no table: pass --stack-file target/local/stack.json for the local stack, or --table-name (the stack's TableName output)")?;
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
        Ok(Ctx {
            store: Store::new(aws_sdk_dynamodb::Client::from_conf(ddb.build()), table),
            secrets: aws_sdk_secretsmanager::Client::from_conf(sm.build()),
            target,
        })
    }

    fn secret_id(v: &Option<String>, flag: &str) -> Result<String, Failure> {
        v.clone()
            .ok_or_else(|| format!("no secret id: pass --{flag} (a stack output) or --stack-file"))
    }
}

fn store_err(e: shared::store::StoreError) -> Failure {
    format!("DynamoDB: {e:?}")
}

async fn create_table(ctx: &Ctx, template: &std::path::Path) -> Result<(), Failure> {
    let req = template::create_table(ctx.store.client(), template, ctx.store.table())?;
    match req.send().await {
        Ok(_) => {
            eprintln!(
                "table {} created from {}",
                ctx.store.table(),
                template.display()
            );
            Ok(())
        }
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ResourceInUseException") => {
            eprintln!("table {} already exists", ctx.store.table());
            Ok(())
        }
        Err(e) => Err(format!(
            "creating table: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        )),
    }
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

async fn keys_init(ctx: &Ctx) -> Result<(), Failure> {
    let signing = Ctx::secret_id(&ctx.target.signing_keys_secret_id, "signing-keys-secret-id")?;
    let what = ensure_secret(
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
    eprintln!("signing keys secret {signing}: {what}");
    let link = Ctx::secret_id(&ctx.target.link_key_secret_id, "link-key-secret-id")?;
    let what = ensure_secret(
        &ctx.secrets,
        &link,
        |s| serde_json::from_str::<LinkKeyRecord>(s).is_ok_and(|k| k.bytes().is_ok()),
        || serde_json::to_string(&LinkKeyRecord::generate()).expect("serialises"),
    )
    .await?;
    eprintln!("link key secret {link}: {what}");
    Ok(())
}

fn urls(t: &Target) -> Result<(String, String), Failure> {
    let base = t
        .api_base_url
        .clone()
        .ok_or("no API base URL: pass --api-base-url (the stack's ApiBaseUrl output + /api/v1) or --stack-file")?;
    let base = base.trim_end_matches('/').to_string();
    let token = match &t.token_url {
        Some(u) => u.clone(),
        None => format!("{}/oauth/token", base.trim_end_matches("/api/v1")),
    };
    Ok((base, token))
}

async fn onboard(ctx: &Ctx, name: &str, subscriptions: &str) -> Result<Kit, Failure> {
    let subs: Vec<Scope> = subscriptions
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                format!("unknown subscription {s:?}: use insurance, tracking, control_tower")
            })
        })
        .collect::<Result<_, _>>()?;
    let scopes = Scopes(subs.into_iter().collect());
    if scopes.is_empty() {
        return Err("give at least one subscription".into());
    }
    let name = name.trim();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    let (api_base_url, token_url) = urls(&ctx.target)?;
    let now = time_fmt::format(time_fmt::now());
    let partner_id = format!("ptn_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let client_id = format!("cli_{}", hex::encode(random_bytes::<12>()));
    let client_secret = format!("cs_{}", B64U.encode(random_bytes::<32>()));
    let api_token_key = hex::encode(random_bytes::<16>());
    let subscriptions: Vec<String> = scopes.0.iter().map(|s| s.as_str().to_string()).collect();
    let partner = PartnerRecord {
        partner_id: partner_id.clone(),
        name: name.to_string(),
        status: "active".into(),
        api_token_key: api_token_key.clone(),
        created_at: now.clone(),
    };
    let client = ClientRecord {
        client_id: client_id.clone(),
        partner_id: partner_id.clone(),
        secret_hash: hash_secret(&client_secret),
        subscriptions: subscriptions.clone(),
        status: "active".into(),
        created_at: now,
    };
    ctx.store
        .create_partner(&partner, &client)
        .await
        .map_err(store_err)?;
    Ok(Kit {
        partner_id,
        client_id,
        client_secret,
        api_token_key,
        subscriptions,
        token_url,
        api_base_url,
    })
}

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;

fn write_private(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

fn print_product(p: &Product) {
    println!(
        "{:<16} {:<4} max item value {:>15}  premium {} bps, minimum {}",
        p.product_code.as_str(),
        p.currency,
        p.max_item_value,
        p.rule.premium_rate_bps,
        p.rule.min_premium
    );
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Ctx::new(cli.target).await?;
    match cli.command {
        Command::Table {
            command: TableCommand::Create { template },
        } => create_table(&ctx, &template).await,
        Command::Keys {
            command: KeysCommand::Init,
        } => keys_init(&ctx).await,
        Command::Product { command } => match command {
            ProductCommand::Put {
                code,
                currency,
                max_item_value,
                premium_rate_bps,
                min_premium,
                json,
            } => {
                let product_code = ProductCode::parse(&code).map_err(|_| {
                    format!("--code {code:?}: use 1 to 64 of a-z, 0-9, '-' and '_'")
                })?;
                let currency = currency.trim().to_ascii_uppercase();
                if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(format!(
                        "--currency {currency:?}: use an ISO 4217 code such as VND"
                    ));
                }
                if max_item_value == 0 {
                    return Err("--max-item-value must be at least 1".into());
                }
                let p = Product {
                    product_code,
                    currency,
                    max_item_value,
                    rule: PremiumRule {
                        premium_rate_bps,
                        min_premium,
                    },
                };
                ctx.store.put_product(&p).await.map_err(store_err)?;
                if json {
                    println!("{}", serde_json::to_string(&p).expect("serialises"));
                } else {
                    print_product(&p);
                }
                Ok(())
            }
            ProductCommand::List { json } => {
                let mut ps = ctx.store.products().await.map_err(store_err)?;
                ps.sort_by(|a, b| a.product_code.as_str().cmp(b.product_code.as_str()));
                if json {
                    println!("{}", json!(ps));
                } else {
                    ps.iter().for_each(print_product);
                }
                Ok(())
            }
        },
        Command::Partner {
            command:
                PartnerCommand::Onboard {
                    name,
                    subscriptions,
                    json,
                    kit_file,
                },
        } => {
            let kit = onboard(&ctx, &name, &subscriptions).await?;
            let text = serde_json::to_string_pretty(&kit).expect("serialises");
            if let Some(path) = &kit_file {
                write_private(path, &text)?;
            }
            if json {
                println!("{}", serde_json::to_string(&kit).expect("serialises"));
            } else {
                println!("Partner onboarded: {name}");
                println!("  partner_id     {}", kit.partner_id);
                println!("  client_id      {}", kit.client_id);
                println!(
                    "  client_secret  {}   (shown once; stored only as a hash)",
                    kit.client_secret
                );
                println!("  api_token_key  {}", kit.api_token_key);
                println!("  subscriptions  {}", kit.subscriptions.join(", "));
                println!("  token_url      {}", kit.token_url);
                println!("  api_base_url   {}", kit.api_base_url);
                if let Some(p) = &kit_file {
                    println!("  kit written to {}", p.display());
                }
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("opsctl: {e}");
        std::process::exit(1);
    }
}
