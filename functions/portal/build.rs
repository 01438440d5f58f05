//! Builds the developer portal into the binary: the page (`apidoc::portal`: the OpenAPI document
//! with the guides and code samples, rendered by the vendored Redoc) and every file it loads or
//! offers for download, each gzip-compressed once here, with a content hash for its URL.
//!
//! The vendored npm packages come from `scripts/install` (`npm ci` of
//! `docs/portal/package-lock.json` into `target/tools/portal/`, or `PORTAL_NPM_DIR`); without
//! them, or with other versions than the lock file pins, the build stops and says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The npm packages the page embeds: (package, file inside it, name served under /docs/).
const VENDORED: [(&str, &str, &str); 4] = [
    (
        "redoc",
        "bundles/redoc.standalone.js",
        "redoc.standalone.js",
    ),
    (
        "redoc",
        "bundles/redoc.standalone.js.LICENSE.txt",
        "redoc.standalone.js.LICENSE.txt",
    ),
    ("redoc", "LICENSE", "redoc.LICENSE.txt"),
    ("blueimp-md5", "js/md5.min.js", "md5.min.js"),
];

/// The one thing Redoc 2 loads from another origin: the logo beside "API docs by Redocly" at
/// the foot of its menu. It is replaced by an empty image (the link and its text stay).
const REDOC_LOGO: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";
const EMPTY_IMAGE: &str = "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'/%3E";

struct Asset {
    name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("yaml") => "application/yaml; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn read(path: &Path) -> Vec<u8> {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn missing(what: &str) -> ! {
    panic!(
        "\n\nThe developer portal's vendored npm packages are missing or stale: {what}.\n\
         Run `scripts/install` (it runs `npm ci` of docs/portal/package-lock.json into \
         target/tools/portal/), or set PORTAL_NPM_DIR to a node_modules directory holding \
         exactly the versions that lock file pins.\n\n"
    )
}

/// `<node_modules>/<package>`, checked against the version the lock file pins.
fn vendored_package(node_modules: &Path, lock: &Value, package: &str) -> PathBuf {
    let pinned = lock["packages"][format!("node_modules/{package}")]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("docs/portal/package-lock.json does not pin {package}"));
    let dir = node_modules.join(package);
    let manifest = dir.join("package.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|_| missing(&format!("{} not found", manifest.display())));
    println!("cargo:rerun-if-changed={}", manifest.display());
    let installed: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| missing(&format!("{} is not JSON", manifest.display())));
    if installed["version"] != pinned {
        missing(&format!(
            "{package} {} is installed, the lock file pins {pinned}",
            installed["version"]
        ));
    }
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .join("../..")
        .canonicalize()
        .expect("the workspace root");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));

    println!("cargo:rerun-if-env-changed=PORTAL_NPM_DIR");
    let node_modules = std::env::var_os("PORTAL_NPM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/tools/portal/node_modules"));
    let lock: Value = serde_json::from_slice(&read(&root.join("docs/portal/package-lock.json")))
        .expect("docs/portal/package-lock.json is JSON");

    let mut assets: Vec<Asset> = Vec::new();
    for (package, file, name) in VENDORED {
        let dir = vendored_package(&node_modules, &lock, package);
        let mut bytes = read(&dir.join(file));
        if name == "redoc.standalone.js" {
            let text = String::from_utf8(bytes).expect("the bundle is UTF-8");
            assert_eq!(
                text.matches(REDOC_LOGO).count(),
                1,
                "redoc.standalone.js no longer holds exactly one {REDOC_LOGO}: check what the new version loads from other origins"
            );
            bytes = text.replace(REDOC_LOGO, EMPTY_IMAGE).into_bytes();
        }
        assets.push(Asset {
            name: name.to_string(),
            content_type: content_type(name),
            bytes,
        });
    }
    for name in ["portal.js", "portal.css", "favicon.svg"] {
        assets.push(Asset {
            name: name.to_string(),
            content_type: content_type(name),
            bytes: read(&root.join("docs/portal").join(name)),
        });
    }
    for (name, rel) in apidoc::portal::download_files() {
        assets.push(Asset {
            content_type: content_type(&name),
            name,
            bytes: read(&root.join(rel)),
        });
    }

    for p in apidoc::portal::source_paths(&root) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let doc = apidoc::portal::portal_document(&apidoc::portal::Sources::read(&root));

    let version = |bytes: &[u8]| hex::encode(&Sha256::digest(bytes)[..6]);
    let versions: Vec<(String, String)> = assets
        .iter()
        .map(|a| (a.name.clone(), version(&a.bytes)))
        .collect();
    let favicon = String::from_utf8(read(&root.join("docs/portal/favicon.svg"))).expect("UTF-8");
    let html = apidoc::portal::page_html(&doc, |name| {
        if name == "favicon.svg" {
            // Inline: browsers fetch icons whenever they like, which would be a request at any
            // moment (the calculator's test checks that typing makes none).
            return format!(
                "data:image/svg+xml,{}",
                favicon
                    .trim()
                    .replace('%', "%25")
                    .replace('#', "%23")
                    .replace('"', "'")
                    .replace('<', "%3C")
                    .replace('>', "%3E")
            );
        }
        let v = versions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("the page links {name}, which is not an asset"));
        format!("docs/{name}?v={v}")
    });
    assets.push(Asset {
        name: String::new(),
        content_type: "text/html; charset=utf-8",
        bytes: html.into_bytes(),
    });

    let dir = out.join("portal");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    let mut table = String::from(
        "/// Generated by build.rs: every file of the portal (the page has the empty name).\n\
         static ASSETS: &[Asset] = &[\n",
    );
    for (i, a) in assets.iter().enumerate() {
        let file = dir.join(format!("{i}.gz"));
        std::fs::write(&file, gzip(&a.bytes)).expect("OUT_DIR is writable");
        table.push_str(&format!(
            "    Asset {{ name: {:?}, content_type: {:?}, version: {:?}, size: {}, gzip: include_bytes!({:?}) }},\n",
            a.name,
            a.content_type,
            version(&a.bytes),
            a.bytes.len(),
            file.display().to_string(),
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("assets.rs"), table).expect("OUT_DIR is writable");
}
