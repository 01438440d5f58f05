//! Which stack a command acts on: the local stack (`--stack-file`, or `--env local`), or a
//! deployed one (`--env staging|production`: the stack's name and region from `samconfig.toml`,
//! its table, secrets and URLs from the CloudFormation stack's outputs). Explicit flags win.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;

type Failure = String;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Env {
    Local,
    Staging,
    Production,
}

impl Env {
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Local => "local",
            Env::Staging => "staging",
            Env::Production => "production",
        }
    }
}

#[derive(Args, Default, Deserialize, Clone, Debug)]
pub struct Target {
    /// Environment: `local` (reads target/local/stack.json unless --stack-file), `staging` or
    /// `production` (reads the stack's outputs with your AWS credentials).
    #[arg(long, global = true, value_enum, env = "PARTNER_API_ENV")]
    #[serde(skip)]
    pub env: Option<Env>,
    /// The local stack's description (written by `devstack up`); sets endpoints, table, secrets and URLs.
    #[arg(long, global = true, env = "PARTNER_API_STACK_FILE")]
    #[serde(skip)]
    pub stack_file: Option<PathBuf>,
    /// The deployed stack's name (default: `stack_name` of samconfig.toml's `[<env>.deploy.parameters]`, else `partner-api-<env>`).
    #[arg(long, global = true, env = "PARTNER_API_STACK_NAME")]
    #[serde(skip)]
    pub stack_name: Option<String>,
    /// samconfig.toml to read stack name and region from (default: ./samconfig.toml, then infra/samconfig.toml).
    #[arg(long, global = true)]
    #[serde(skip)]
    pub samconfig: Option<PathBuf>,
    /// DynamoDB table name (a deployed stack's `TableName` output).
    #[arg(long, global = true, env = "PARTNER_API_TABLE")]
    pub table_name: Option<String>,
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    #[arg(long, global = true, env = "PARTNER_API_SIGNING_KEYS_SECRET_ID")]
    pub signing_keys_secret_id: Option<String>,
    #[arg(long, global = true, env = "PARTNER_API_LINK_KEY_SECRET_ID")]
    pub link_key_secret_id: Option<String>,
    /// The secret holding the key that seals webhook endpoint secrets (`WebhookKeySecretId` output).
    #[arg(long, global = true, env = "PARTNER_API_WEBHOOK_KEY_SECRET_ID")]
    pub webhook_key_secret_id: Option<String>,
    /// The API base URL partners call, ending in /api/v1 (goes into credentials kits).
    #[arg(long, global = true, env = "PARTNER_API_BASE_URL")]
    pub api_base_url: Option<String>,
    /// The token URL (defaults to the API base URL's origin + /oauth/token).
    #[arg(long, global = true, env = "PARTNER_API_TOKEN_URL")]
    pub token_url: Option<String>,
    /// The S3 bucket of claim documents (a deployed stack's `ClaimsBucketName` output).
    #[arg(long, global = true, env = "PARTNER_API_CLAIMS_BUCKET")]
    pub claims_bucket: Option<String>,
    #[arg(skip)]
    pub s3_endpoint: Option<String>,
    /// The developer portal (goes into credentials kits; defaults to the API base URL without
    /// /api/v1, + /docs; a deployed stack's `DeveloperPortalUrl` output).
    #[arg(long, global = true, env = "PARTNER_API_DEVELOPER_PORTAL_URL")]
    pub developer_portal_url: Option<String>,
    #[arg(skip)]
    pub dynamodb_endpoint: Option<String>,
    #[arg(skip)]
    pub secretsmanager_endpoint: Option<String>,
    /// The environment name the stack file or stack declares.
    #[arg(skip)]
    pub environment: Option<String>,
}

impl Target {
    /// A short name of where commands act, for prompts and messages.
    pub fn describe(&self) -> String {
        let env = self.environment.as_deref().unwrap_or("unknown environment");
        match &self.table_name {
            Some(t) => format!("{env} (table {t})"),
            None => env.to_string(),
        }
    }

    pub fn is_local(&self) -> bool {
        self.dynamodb_endpoint.is_some()
    }

    /// Fill in what the flags left open, from the stack file or the deployed stack.
    pub async fn resolve(mut self) -> Result<Target, Failure> {
        if self.env == Some(Env::Local) && self.stack_file.is_none() {
            self.stack_file = Some(PathBuf::from("target/local/stack.json"));
        }
        if let Some(path) = self.stack_file.clone() {
            if matches!(self.env, Some(Env::Staging | Env::Production)) {
                return Err(format!(
                    "--env {} and --stack-file {} contradict each other: drop one",
                    self.env.map(Env::as_str).unwrap_or_default(),
                    path.display()
                ));
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read stack file {}: {e}; is the local stack running (scripts/run)?",
                    path.display()
                )
            })?;
            let file: Target = serde_json::from_str(&text)
                .map_err(|e| format!("stack file {} is not valid: {e}", path.display()))?;
            self = Target {
                env: Some(Env::Local),
                stack_file: Some(path),
                stack_name: None,
                samconfig: None,
                table_name: self.table_name.or(file.table_name),
                region: file.region.or(self.region),
                signing_keys_secret_id: self.signing_keys_secret_id.or(file.signing_keys_secret_id),
                link_key_secret_id: self.link_key_secret_id.or(file.link_key_secret_id),
                webhook_key_secret_id: self.webhook_key_secret_id.or(file.webhook_key_secret_id),
                api_base_url: self.api_base_url.or(file.api_base_url),
                token_url: self.token_url.or(file.token_url),
                claims_bucket: self.claims_bucket.or(file.claims_bucket),
                s3_endpoint: file.s3_endpoint,
                developer_portal_url: self.developer_portal_url.or(file.developer_portal_url),
                dynamodb_endpoint: file.dynamodb_endpoint,
                secretsmanager_endpoint: file.secretsmanager_endpoint,
                environment: file.environment.or(Some("local".into())),
            };
            // The local emulators accept any credentials.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                std::env::set_var("AWS_ACCESS_KEY_ID", "local");
                std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
            }
            return Ok(self);
        }
        let Some(env) = self.env else {
            return Ok(self);
        };
        let sam = read_samconfig(self.samconfig.as_deref(), env)?;
        let stack_name = self
            .stack_name
            .clone()
            .or(sam.stack_name)
            .unwrap_or_else(|| format!("partner-api-{}", env.as_str()));
        if self.region.is_none() {
            self.region = sam.region;
        }
        let outputs = stack_outputs(&stack_name, self.region.as_deref(), env).await?;
        let get = |k: &str| outputs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        self.table_name = self.table_name.or(get("TableName"));
        self.signing_keys_secret_id = self.signing_keys_secret_id.or(get("SigningKeysSecretId"));
        self.link_key_secret_id = self.link_key_secret_id.or(get("LinkKeySecretId"));
        self.webhook_key_secret_id = self.webhook_key_secret_id.or(get("WebhookKeySecretId"));
        self.api_base_url = self.api_base_url.or(get("ApiBaseUrl").map(|u| {
            let u = u.trim_end_matches('/');
            if u.ends_with("/api/v1") {
                u.to_string()
            } else {
                format!("{u}/api/v1")
            }
        }));
        self.token_url = self.token_url.or(get("TokenUrl"));
        self.claims_bucket = self.claims_bucket.or(get("ClaimsBucketName"));
        self.developer_portal_url = self.developer_portal_url.or(get("DeveloperPortalUrl"));
        self.environment = Some(env.as_str().into());
        self.stack_name = Some(stack_name);
        Ok(self)
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SamConfig {
    pub stack_name: Option<String>,
    pub region: Option<String>,
}

fn read_samconfig(path: Option<&Path>, env: Env) -> Result<SamConfig, Failure> {
    let candidates: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None => vec!["samconfig.toml".into(), "infra/samconfig.toml".into()],
    };
    for p in candidates {
        match std::fs::read_to_string(&p) {
            Ok(text) => {
                return parse_samconfig(&text, env)
                    .map_err(|e| format!("{} is not valid TOML: {e}", p.display()))
            }
            Err(e) if path.is_some() => {
                return Err(format!("cannot read {}: {e}", p.display()));
            }
            Err(_) => continue,
        }
    }
    Ok(SamConfig::default())
}

/// `stack_name` and `region` of `[<env>.deploy.parameters]`, falling back to `[<env>.global.parameters]`.
pub fn parse_samconfig(text: &str, env: Env) -> Result<SamConfig, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let section = |cmd: &str| {
        doc.get(env.as_str())
            .and_then(|e| e.get(cmd))
            .and_then(|c| c.get("parameters"))
            .and_then(|p| p.as_table())
            .cloned()
    };
    let (deploy, global) = (section("deploy"), section("global"));
    let get = |k: &str| {
        deploy
            .as_ref()
            .and_then(|t| t.get(k))
            .or_else(|| global.as_ref().and_then(|t| t.get(k)))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    Ok(SamConfig {
        stack_name: get("stack_name"),
        region: get("region"),
    })
}

async fn stack_outputs(
    stack_name: &str,
    region: Option<&str>,
    env: Env,
) -> Result<Vec<(String, String)>, Failure> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    let sdk = loader.load().await;
    let region_shown = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "(none)".into());
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let out = cfn
        .describe_stacks()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read stack {stack_name} in region {region_shown}: {}\n\
                 next: check your AWS credentials (`aws sts get-caller-identity`), the region (--region or samconfig.toml), \
                 and the stack name (--stack-name); or pass --table-name and the secret ids yourself",
                aws_sdk_cloudformation::error::DisplayErrorContext(&e)
            )
        })?;
    let stack = out
        .stacks()
        .first()
        .ok_or_else(|| format!("stack {stack_name} not found in region {region_shown}"))?;
    let declared = stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("EnvironmentName"))
        .and_then(|p| p.parameter_value());
    if let Some(d) = declared {
        if d != env.as_str() {
            return Err(format!(
                "stack {stack_name} is the {d} environment, not {}: check --stack-name / samconfig.toml",
                env.as_str()
            ));
        }
    }
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samconfig_sections_per_environment() {
        let text = r#"
version = 0.1
[default.global.parameters]
stack_name = "ignored"
[staging.deploy.parameters]
stack_name = "partner-api-staging"
region = "ap-southeast-1"
[production.global.parameters]
region = "ap-southeast-1"
[production.deploy.parameters]
stack_name = "partner-api-prod"
"#;
        assert_eq!(
            parse_samconfig(text, Env::Staging).unwrap(),
            SamConfig {
                stack_name: Some("partner-api-staging".into()),
                region: Some("ap-southeast-1".into())
            }
        );
        assert_eq!(
            parse_samconfig(text, Env::Production).unwrap(),
            SamConfig {
                stack_name: Some("partner-api-prod".into()),
                region: Some("ap-southeast-1".into())
            }
        );
        assert_eq!(
            parse_samconfig("", Env::Local).unwrap(),
            SamConfig::default()
        );
        assert!(parse_samconfig("[[", Env::Staging).is_err());
    }
}
