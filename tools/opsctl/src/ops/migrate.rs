//! `opsctl migrate`: moving a deployed table to the layout of issue 17 (README "Migrating a
//! deployed table (issue 17)"): the delivery items (`deliveries`), and the template of each
//! deploy step of the index change (`template`), since CloudFormation creates or deletes at most
//! one global secondary index per stack update.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;
use serde_yaml::Value as Yaml;
use shared::store::{DeliveryRecord, Store, StoreError};

use super::*;
use crate::Outcome;

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Rewrite the delivery items stored before issue 17 in the current layout (idempotent;
    /// safe while the API runs: each rewrite is conditional on the item's version).
    Deliveries {
        /// Add the current layout beside the old one instead (step 3 of the migration, while
        /// the release before issue 17 still runs and reads the old attributes).
        #[arg(long)]
        keep_old_layout: bool,
        /// Parallel scan segments.
        #[arg(long, default_value_t = 4)]
        segments: i32,
        /// Count what would be rewritten, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the SAM template of one deploy step of the index migration (1 to 5).
    Template {
        #[arg(long)]
        step: u8,
        /// The template of this release.
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
        /// Steps 1 and 2: the template of the release that is deployed now (from its checkout).
        #[arg(long)]
        base: Option<PathBuf>,
    },
}

/// `migrate template` needs no table: it runs before the context is built.
pub fn template_command(command: &MigrateCommand) -> Option<Result<Outcome, Failure>> {
    match command {
        MigrateCommand::Template {
            step,
            template,
            base,
        } => Some(
            step_template(*step, template, base.as_deref()).map(|text| Outcome {
                json: json!({"step": step, "template": text}),
                text,
            }),
        ),
        MigrateCommand::Deliveries { .. } => None,
    }
}

pub async fn migrate(ctx: &Ctx, command: MigrateCommand) -> Result<Outcome, Failure> {
    let MigrateCommand::Deliveries {
        keep_old_layout,
        segments,
        dry_run,
    } = command
    else {
        return template_command(&command).expect("a template command");
    };
    if !(1..=64).contains(&segments) {
        return Err("--segments: 1 to 64".into());
    }
    if !dry_run {
        ctx.confirm("rewrite the delivery items stored before issue 17")?;
    }
    let found = Arc::new(AtomicUsize::new(0));
    let rewritten = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for segment in 0..segments {
        let store = ctx.store.clone();
        let (found, rewritten) = (found.clone(), rewritten.clone());
        tasks.spawn(async move {
            let mut start = None;
            loop {
                let (page, next) = store
                    .old_layout_deliveries(segment, segments, keep_old_layout, start)
                    .await?;
                for rec in page {
                    found.fetch_add(1, Ordering::Relaxed);
                    if !dry_run && rewrite_one(&store, rec, keep_old_layout).await? {
                        rewritten.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match next {
                    Some(k) => start = Some(k),
                    None => return Ok::<(), StoreError>(()),
                }
            }
        });
    }
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(store_err(e)),
            Err(e) => failure = Some(format!("a scan segment failed: {e}")),
        }
    }
    let (found, rewritten) = (
        found.load(Ordering::Relaxed),
        rewritten.load(Ordering::Relaxed),
    );
    let counts = json!({"found": found, "rewritten": rewritten, "keep_old_layout": keep_old_layout, "dry_run": dry_run});
    if !dry_run && rewritten > 0 {
        commit(
            ctx,
            vec![],
            Change {
                action: "table.migrate_deliveries",
                target: format!("table:{}", ctx.store.table()),
                partner_id: None,
                before: None,
                after: Some(counts.clone()),
                reason: Some("issue 17 item layout".into()),
            },
        )
        .await?;
    }
    if let Some(f) = failure {
        return Err(format!(
            "{f}\n{rewritten} of {found} items were rewritten before the failure; re-run the command (it is idempotent)"
        ));
    }
    let what = if keep_old_layout {
        "given the current layout beside the old one"
    } else {
        "rewritten in the current layout"
    };
    Ok(Outcome {
        json: counts,
        text: if dry_run {
            format!("{found} delivery items to migrate (dry run: nothing changed)")
        } else {
            format!("{rewritten} of {found} delivery items {what}")
        },
    })
}

/// Rewrite one item, reading it again after a conflict (the API wrote it meanwhile: its
/// write may already have rewritten it). True when this command wrote it.
async fn rewrite_one(
    store: &Store,
    mut rec: DeliveryRecord,
    keep_old_layout: bool,
) -> Result<bool, StoreError> {
    for _ in 0..5 {
        match store.rewrite_delivery(&rec, keep_old_layout).await {
            Ok(()) => return Ok(true),
            Err(StoreError::Conflict) => {
                match store
                    .delivery(&rec.partner_id, rec.submission.tracking_number.as_str())
                    .await?
                {
                    Some(fresh) => rec = fresh,
                    None => return Ok(false),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

// ---- deploy steps -------------------------------------------------------------------------

/// The list indexes before issue 17 (projection ALL), as the template defined them.
const OLD_INDEXES: &str = r#"
- IndexName: by-created
  KeySchema:
    - {AttributeName: gsi1pk, KeyType: HASH}
    - {AttributeName: gsi1sk, KeyType: RANGE}
  Projection: {ProjectionType: ALL}
- IndexName: by-status
  KeySchema:
    - {AttributeName: gsi2pk, KeyType: HASH}
    - {AttributeName: gsi2sk, KeyType: RANGE}
  Projection: {ProjectionType: ALL}
"#;
const NEW_INDEXES: [&str; 2] = ["list-created", "list-status"];

fn load(path: &Path) -> Result<Yaml, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

fn table_props(doc: &mut Yaml) -> Result<&mut Yaml, Failure> {
    doc.get_mut("Resources")
        .and_then(|r| r.get_mut("Table"))
        .and_then(|t| t.get_mut("Properties"))
        .ok_or_else(|| "the template has no Resources.Table.Properties".into())
}

fn name_of(index: &Yaml) -> &str {
    index["IndexName"].as_str().unwrap_or_default()
}

fn indexes(props: &mut Yaml) -> Result<&mut Vec<Yaml>, Failure> {
    props
        .get_mut("GlobalSecondaryIndexes")
        .and_then(Yaml::as_sequence_mut)
        .ok_or_else(|| "the Table has no GlobalSecondaryIndexes list".into())
}

/// Make the attribute definitions exactly the table's and its indexes' key attributes
/// (CloudFormation refuses definitions no key uses).
fn define_key_attributes(props: &mut Yaml) -> Result<(), Failure> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |schema: &Yaml| {
        for k in schema.as_sequence().into_iter().flatten() {
            if let Some(n) = k["AttributeName"].as_str() {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
    };
    add(&props["KeySchema"]);
    for i in indexes(props)?.iter() {
        add(&i["KeySchema"]);
    }
    let defs: Vec<Yaml> = names
        .iter()
        .map(|n| serde_yaml::from_str(&format!("{{AttributeName: {n}, AttributeType: S}}")))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    props["AttributeDefinitions"] = Yaml::Sequence(defs);
    Ok(())
}

/// The template of deploy step `step` (README "Migrating a deployed table (issue 17)"): each
/// step creates or deletes exactly one index of the one before.
pub fn step_template(step: u8, template: &Path, base: Option<&Path>) -> Result<String, Failure> {
    let this = load(template)?;
    let mut this_for_new = this.clone();
    let new: Vec<Yaml> = indexes(table_props(&mut this_for_new)?)?
        .iter()
        .filter(|i| NEW_INDEXES.contains(&name_of(i)))
        .cloned()
        .collect();
    if new.len() != NEW_INDEXES.len() {
        return Err(format!(
            "{} does not define the indexes {NEW_INDEXES:?}",
            template.display()
        ));
    }
    let old: Vec<Yaml> = serde_yaml::from_str(OLD_INDEXES).map_err(|e| e.to_string())?;
    let (mut doc, keep_new, add_old) = match step {
        1 | 2 => {
            let base = base.ok_or(
                "steps 1 and 2 change the template of the release that runs now: pass --base <its infra/template.yaml>",
            )?;
            (load(base)?, step as usize, 0)
        }
        3 => (this, 2, 2),
        4 => (this, 2, 1),
        5 => (this, 2, 0),
        _ => return Err("--step: 1 to 5".into()),
    };
    let props = table_props(&mut doc)?;
    let list = indexes(props)?;
    list.retain(|i| !NEW_INDEXES.contains(&name_of(i)));
    if step <= 2 && !list.iter().any(|i| name_of(i) == "by-created") {
        return Err(
            "--base is not a template of the release before issue 17 (no by-created index)".into(),
        );
    }
    list.extend(new.into_iter().take(keep_new));
    if step >= 3 {
        // by-status goes last: it is the one step 4 keeps.
        list.extend(old.into_iter().rev().take(add_old));
    }
    define_key_attributes(props)?;
    let text = serde_yaml::to_string(&doc).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Generated by `opsctl migrate template --step {step}` (README \"Migrating a deployed table (issue 17)\").\n{text}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_names(text: &str) -> Vec<String> {
        let mut doc: Yaml = serde_yaml::from_str(text).unwrap();
        let mut names: Vec<String> = indexes(table_props(&mut doc).unwrap())
            .unwrap()
            .iter()
            .map(|i| name_of(i).to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn each_step_creates_or_deletes_exactly_one_index() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let this = root.join("infra/template.yaml");
        // The release before issue 17: this template with the old list indexes.
        let mut before: Yaml = load(&this).unwrap();
        {
            let props = table_props(&mut before).unwrap();
            let list = indexes(props).unwrap();
            list.retain(|i| !NEW_INDEXES.contains(&name_of(i)));
            list.extend(serde_yaml::from_str::<Vec<Yaml>>(OLD_INDEXES).unwrap());
            define_key_attributes(props).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("opsctl-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("before.yaml");
        std::fs::write(&base, serde_yaml::to_string(&before).unwrap()).unwrap();

        let mut steps = vec![index_names(&std::fs::read_to_string(&base).unwrap())];
        for step in 1..=5 {
            let text = step_template(step, &this, Some(&base)).unwrap();
            // What CloudFormation sees is still a SAM template with the tags it had.
            assert!(text.contains("AWS::Serverless-2016-10-31"), "step {step}");
            assert!(
                text.contains("!GetAtt") || text.contains("!Ref"),
                "step {step}"
            );
            steps.push(index_names(&text));
        }
        assert_eq!(steps[0], ["by-created", "by-policy", "by-status"]);
        assert_eq!(steps[5], ["by-policy", "list-created", "list-status"]);
        for w in steps.windows(2) {
            let added = w[1].iter().filter(|n| !w[0].contains(n)).count();
            let removed = w[0].iter().filter(|n| !w[1].contains(n)).count();
            assert!(added + removed <= 1, "{:?} -> {:?}", w[0], w[1]);
        }
        assert!(step_template(1, &this, None).is_err());
        assert!(step_template(1, &this, Some(&this)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
