//! Where events may be sent. Checked at registration (`POST`/`PATCH /webhook-endpoints`) and again
//! at every send, after DNS resolution:
//!
//! - the URL is absolute, at most 2048 characters, without credentials (`user:pass@`) or fragment;
//! - `https://`, on a host whose every address is public: a private, loopback, link-local, cloud
//!   metadata, shared (CGNAT), documentation, multicast or reserved address is refused;
//! - under the local rule (the local environment), also `http://127.0.0.1:<port>` and
//!   `http://localhost:<port>` (and only those two spellings: another name resolving to a
//!   loopback address is refused as everywhere).
//!
//! The sender connects only to the addresses this check returned (its DNS resolver is
//! `CheckedResolver`), so a name that resolves to a public address at check time and to a private
//! one a moment later (DNS rebinding) cannot slip through; redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAX_URL_LENGTH: usize = 2048;
/// Environment variable choosing the rule: `local` or `public`. Default: `local` when
/// `ENVIRONMENT_NAME` is `local`, else `public` (a test sets `public` on a local stack to run the
/// deployed rule).
pub const POLICY_ENV: &str = "WEBHOOK_URL_POLICY";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// Staging and production: https and public addresses only.
    Public,
    /// The local stack: also http://127.0.0.1:<port> and http://localhost:<port>.
    Local,
}

impl UrlPolicy {
    pub fn from_env(environment: &str) -> UrlPolicy {
        match std::env::var(POLICY_ENV).ok().as_deref() {
            Some("public") => UrlPolicy::Public,
            Some("local") => UrlPolicy::Local,
            _ if environment == "local" => UrlPolicy::Local,
            _ => UrlPolicy::Public,
        }
    }
}

/// Why an address may not receive events, or `None` when it may.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let within = |net: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
    };
    if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
        return Some("a cloud metadata address");
    }
    if within([127, 0, 0, 0], 8) {
        return Some("a loopback address");
    }
    if within([10, 0, 0, 0], 8) || within([172, 16, 0, 0], 12) || within([192, 168, 0, 0], 16) {
        return Some("a private address");
    }
    if within([169, 254, 0, 0], 16) {
        return Some("a link-local address");
    }
    if within([100, 64, 0, 0], 10) {
        return Some("a shared (carrier-grade NAT) address");
    }
    if within([0, 0, 0, 0], 8) {
        return Some("an unspecified address");
    }
    if within([192, 0, 0, 0], 24)
        || within([192, 0, 2, 0], 24)
        || within([198, 18, 0, 0], 15)
        || within([198, 51, 100, 0], 24)
        || within([203, 0, 113, 0], 24)
        || within([240, 0, 0, 0], 4)
    {
        return Some("a reserved address");
    }
    if within([224, 0, 0, 0], 4) {
        return Some("a multicast address");
    }
    None
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Addresses that embed an IPv4 address: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4).or(None);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
        .or(None);
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        return Some("a cloud metadata address");
    }
    if (s[0] & 0xfe00) == 0xfc00 {
        return Some("a private (unique local) address");
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Some("a link-local address");
    }
    if (s[0] & 0xff00) == 0xff00 {
        return Some("a multicast address");
    }
    if s[0] == 0x2001 && s[1] == 0x0db8 {
        return Some("a documentation address");
    }
    if s[0..6] == [0, 0, 0, 0, 0, 0] {
        return Some("a deprecated IPv4-compatible address");
    }
    None
}

/// The local rule's exception: exactly `127.0.0.1` or `localhost`, over http or https.
fn local_exception(policy: UrlPolicy, host: &url::Host<&str>) -> bool {
    policy == UrlPolicy::Local
        && match host {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => *ip == Ipv4Addr::LOCALHOST,
            url::Host::Ipv6(_) => false,
        }
}

/// Checks the form of a receiver URL (no network): `Err` says why, as a sentence to follow the
/// field name.
pub fn parse(text: &str, policy: UrlPolicy) -> Result<url::Url, String> {
    if text.len() > MAX_URL_LENGTH {
        return Err(format!("must be at most {MAX_URL_LENGTH} characters."));
    }
    let url = url::Url::parse(text)
        .map_err(|_| "must be an absolute URL such as https://example.com/webhooks.".to_string())?;
    let host = url.host().ok_or_else(|| "must name a host.".to_string())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (user:password@); authenticate the request by its signature.".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment (#...).".into());
    }
    let exception = local_exception(policy, &host);
    match url.scheme() {
        "https" => {}
        "http" if exception => {}
        _ if policy == UrlPolicy::Local => return Err(
            "must be https:// (or, locally, http://127.0.0.1:<port> or http://localhost:<port>)."
                .into(),
        ),
        _ => return Err("must be https://.".into()),
    }
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    if let (Some(ip), false) = (literal, exception) {
        if let Some(why) = forbidden(ip) {
            return Err(format!("must be on a public host; {ip} is {why}."));
        }
    }
    Ok(url)
}

/// The addresses a host resolves to, refused as a whole if any is not public (under the local
/// rule `localhost` may resolve to loopback addresses).
pub async fn resolve(host: &str, port: u16, policy: UrlPolicy) -> Result<Vec<SocketAddr>, String> {
    let allow_loopback = policy == UrlPolicy::Local && host.eq_ignore_ascii_case("localhost");
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| format!("must be on a host that resolves; {host} does not."))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("must be on a host that resolves; {host} does not."));
    }
    check_resolved(host, &addrs, allow_loopback)?;
    Ok(addrs)
}

/// Every resolved address must be public (`allow_loopback`: the local rule's `localhost`).
pub fn check_resolved(
    host: &str,
    addrs: &[SocketAddr],
    allow_loopback: bool,
) -> Result<(), String> {
    for a in addrs {
        let ip = a.ip();
        if allow_loopback && ip.is_loopback() {
            continue;
        }
        if let Some(why) = forbidden(ip) {
            return Err(format!(
                "must be on a public host; {host} resolves to {ip}, {why}."
            ));
        }
    }
    Ok(())
}

/// The full check: the form, then (for a host name) its resolution. What registration and every
/// send call.
pub async fn check(text: &str, policy: UrlPolicy) -> Result<url::Url, String> {
    let url = parse(text, policy)?;
    if let Some(url::Host::Domain(d)) = url.host() {
        resolve(d, url.port_or_known_default().unwrap_or(443), policy).await?;
    }
    Ok(url)
}

/// A DNS resolver for the sender's HTTP client that returns only addresses the rule allows, so
/// the connection goes to the address that was checked.
#[derive(Debug, Clone)]
pub struct CheckedResolver(pub UrlPolicy);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let addrs = resolve(name.as_str(), 0, policy)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(forbidden(ip).is_some(), "{bad} should be refused");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = good.parse().unwrap();
            assert_eq!(forbidden(ip), None, "{good} should be allowed");
        }
        assert_eq!(
            forbidden("169.254.169.254".parse().unwrap()),
            Some("a cloud metadata address")
        );
    }

    #[test]
    fn the_public_rule() {
        let p = UrlPolicy::Public;
        assert!(parse("https://hooks.example.com/x?y=1", p).is_ok());
        assert!(parse("https://93.184.216.34:8443/x", p).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "http://127.0.0.1:9000/x",
            "https://127.0.0.1/x",
            "http://localhost:9000/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]:8443/x",
            "https://[fd00:ec2::254]/",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "ftp://hooks.example.com/x",
            "/relative",
            "not a url",
        ] {
            assert!(parse(bad, p).is_err(), "{bad} should be refused");
        }
        assert!(parse(&format!("https://e.com/{}", "a".repeat(2048)), p).is_err());
    }

    #[test]
    fn the_local_rule_adds_exactly_loopback_by_ip_and_localhost() {
        let l = UrlPolicy::Local;
        assert!(parse("http://127.0.0.1:9000/hooks", l).is_ok());
        assert!(parse("http://localhost:9000/hooks", l).is_ok());
        assert!(parse("http://LOCALHOST:9000/hooks", l).is_ok());
        assert!(parse("https://hooks.example.com/", l).is_ok());
        for bad in [
            "http://127.0.0.2:9000/",
            "http://[::1]:9000/",
            "http://10.0.0.1:9000/",
            "http://169.254.169.254/",
            "http://hooks.example.com/",
        ] {
            assert!(parse(bad, l).is_err(), "{bad} should be refused locally");
        }
    }

    #[test]
    fn resolved_names_are_judged_by_every_address() {
        let a = |s: &str| -> SocketAddr { format!("{s}:443").parse().unwrap() };
        assert!(check_resolved("x", &[a("93.184.216.34")], false).is_ok());
        let e = check_resolved("evil.example", &[a("93.184.216.34"), a("10.0.0.5")], false)
            .unwrap_err();
        assert!(e.contains("10.0.0.5") && e.contains("private"), "{e}");
        assert!(check_resolved("m", &[a("169.254.169.254")], false).is_err());
        assert!(check_resolved("localhost", &[a("127.0.0.1"), a("[::1]")], true).is_ok());
        assert!(check_resolved("localhost", &[a("127.0.0.1")], false).is_err());
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_is_refused_by_the_public_rule() {
        // No network needed: localhost is in /etc/hosts.
        assert!(check("http://localhost:9/x", UrlPolicy::Local)
            .await
            .is_ok());
        let e = check("https://localhost:9/x", UrlPolicy::Public)
            .await
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
    }
}
