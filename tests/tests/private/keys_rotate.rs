//! `opsctl keys rotate` on a stack of its own (it changes the signing key every test would use):
//! tokens issued before the rotation stay valid, the token function starts signing with the new
//! key without a redeploy, and the authorizer accepts the new key's tokens.

use std::time::{Duration, Instant};

use blackbox::jwt;
use blackbox::{unique_tn, Partner, Stack};
use serde_json::Value;

/// The new key activates 15 s after the rotation (`shared::keys::SIGNING_KEY_ACTIVATION_DELAY_SECONDS`)
/// and the token function re-reads the secret every 60 s (`shared::secrets::SIGNER_TTL`).
const PICKED_UP_WITHIN: Duration = Duration::from_secs(15 + 60 + 20);

async fn opsctl_on(st: &Stack, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(st.bin("opsctl"))
        .arg("--stack-file")
        .arg(&st.stack_file)
        .args(args)
        .args(["--json", "--yes", "--actor", "blackbox-keys"])
        .env_remove("PARTNER_API_BASE_URL")
        .env_remove("PARTNER_API_STACK_FILE")
        .env_remove("PARTNER_API_ENV")
        .env_remove("PARTNER_API_TABLE")
        .env_remove("PARTNER_API_SIGNING_KEYS_SECRET_ID")
        .env_remove("PARTNER_API_LINK_KEY_SECRET_ID")
        .current_dir(&st.workspace)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("running opsctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "opsctl {} failed:\n{stdout}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "opsctl {} --json printed no JSON ({e}): {stdout}",
            args.join(" ")
        )
    })
}

#[tokio::test]
async fn keys_rotate_keeps_issued_tokens_valid_and_new_tokens_use_the_new_key() {
    let Some(st) = Stack::start_private() else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return;
    };
    let p = Partner::from_kit(st.demo_kit_json());
    let probe = format!("/sme-deliveries/{}", unique_tn());
    let old_token = p.token().await;
    let (old_header, _) = jwt::decode(&old_token);
    p.get_with(&probe, Some(&old_token))
        .await
        .expect_error(404, "not_found");

    let started = Instant::now();
    let out = opsctl_on(&st, &["keys", "rotate"]).await;
    let new_kid = out["kid"]
        .as_str()
        .unwrap_or_else(|| panic!("keys rotate --json has no kid: {out}"))
        .to_string();
    assert_ne!(Value::String(new_kid.clone()), old_header["kid"]);
    // The secret keeps the previous key (its tokens are still valid) behind the new one.
    let secret = jwt::signing_keys_secret(&p.http, &st).await;
    let kids: Vec<&str> = secret["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.first(), Some(&new_kid.as_str()), "{kids:?}");
    assert!(
        kids.iter()
            .any(|k| Value::String(k.to_string()) == old_header["kid"]),
        "{kids:?}"
    );

    // New tokens: every one is accepted; within the bound they carry the new kid.
    let took = loop {
        let token = p.token_with_scope(None).await;
        p.get_with(&probe, Some(&token))
            .await
            .expect_error(404, "not_found");
        let (h, _) = jwt::decode(&token);
        if h["kid"] == Value::String(new_kid.clone()) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < PICKED_UP_WITHIN,
            "the token function still signs with {} {:?} after the rotation",
            h["kid"],
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    eprintln!("token function signed with the rotated-in key after {took:?}");

    // The token issued before the rotation is still valid.
    p.get_with(&probe, Some(&old_token))
        .await
        .expect_error(404, "not_found");

    // The rotation is in the audit log, naming kids only, never key material.
    let audit = opsctl_on(&st, &["audit", "list", "--action", "keys.rotate"]).await;
    let text = audit.to_string();
    assert!(text.contains(&new_kid), "{text}");
    assert!(text.contains("blackbox-keys"), "{text}");
    assert!(
        !text.contains("private_key"),
        "the audit log holds key material: {text}"
    );
}
