//! `apidoc`: tooling around the OpenAPI document.
//!
//! ```sh
//! cargo run -p apidoc -- postman          # regenerate docs/postman/ from docs/openapi/openapi.yaml
//! cargo run -p apidoc -- postman --check  # fail when docs/postman/ is out of date
//! cargo run -p apidoc -- json             # print the document as JSON (what the API serves)
//! ```

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Tooling around docs/openapi/openapi.yaml")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the Postman collection and environments under docs/postman/.
    Postman {
        /// Do not write; exit 1 when a file differs from what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Print the document as JSON.
    Json,
    /// Print the code samples of one operation (by operationId) as the portal shows them.
    Samples { operation_id: String },
}

fn main() {
    let cli = Cli::parse();
    let doc = apidoc::load_document();
    match cli.command {
        Command::Samples { operation_id } => {
            let doc = apidoc::samples::with_code_samples(&doc);
            let Some((_, _, op)) = apidoc::operations(&doc)
                .into_iter()
                .find(|(_, _, op)| op["operationId"] == operation_id.as_str())
            else {
                eprintln!("apidoc: no operation {operation_id}");
                std::process::exit(1);
            };
            for s in op["x-codeSamples"].as_array().into_iter().flatten() {
                println!(
                    "===== {}\n{}",
                    s["label"].as_str().unwrap_or(""),
                    s["source"].as_str().unwrap_or("")
                );
            }
        }
        Command::Json => {
            println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        }
        Command::Postman { check } => {
            let root = apidoc::workspace_root();
            let mut stale = Vec::new();
            for (rel, content) in apidoc::postman_files(&doc) {
                let path = root.join(&rel);
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current == content {
                    continue;
                }
                if check {
                    stale.push(rel);
                } else {
                    std::fs::create_dir_all(path.parent().expect("has a parent"))
                        .unwrap_or_else(|e| panic!("creating the folder of {rel}: {e}"));
                    std::fs::write(&path, content).unwrap_or_else(|e| panic!("writing {rel}: {e}"));
                    eprintln!("apidoc: wrote {rel}");
                }
            }
            if !stale.is_empty() {
                eprintln!(
                    "apidoc: out of date: {}; run `cargo run -p apidoc -- postman`",
                    stale.join(", ")
                );
                std::process::exit(1);
            }
        }
    }
}
