//! Route matching as API Gateway (REST) does it: a `{name}` path variable matches exactly one
//! non-empty path segment; among the routes that match, the one with a literal segment at the
//! first place where they differ wins; a route with the request's own method beats `ANY`.
//! Matching works on the raw (percent-encoded) path; path parameter values are then decoded.

use crate::template::Route;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
}

fn parse_segments(resource_path: &str) -> Vec<Segment> {
    resource_path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Variable(name.to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

/// Checks a template `Path`: absolute, no empty segments, variables are whole segments, no
/// greedy variables (`{proxy+}` is not emulated).
pub fn validate_resource_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("Path {path:?} must start with '/'"));
    }
    if path == "/" {
        return Ok(());
    }
    for seg in path[1..].split('/') {
        if seg.is_empty() {
            return Err(format!("Path {path:?} has an empty segment"));
        }
        let braces = seg.contains('{') || seg.contains('}');
        if braces {
            let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return Err(format!(
                    "Path {path:?}: a path variable must be a whole segment"
                ));
            };
            if name.ends_with('+') {
                return Err(format!(
                    "Path {path:?}: greedy path variables are not emulated"
                ));
            }
            if name.is_empty() || name.contains('{') || name.contains('}') {
                return Err(format!("Path {path:?}: bad path variable {seg:?}"));
            }
        }
    }
    Ok(())
}

struct Compiled {
    route: Route,
    segments: Vec<Segment>,
}

pub struct RouteTable {
    routes: Vec<Compiled>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'a Route,
    /// Decoded path parameter values, in path order.
    pub params: Vec<(String, String)>,
}

impl RouteTable {
    pub fn new(routes: &[Route]) -> RouteTable {
        RouteTable {
            routes: routes
                .iter()
                .map(|r| Compiled {
                    route: r.clone(),
                    segments: parse_segments(&r.path),
                })
                .collect(),
        }
    }

    /// `raw_path` is the request path as received (percent-encoded, without the query).
    pub fn find(&self, method: &str, raw_path: &str) -> Option<Matched<'_>> {
        let rest = raw_path.strip_prefix('/')?;
        let request: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut best: Option<&Compiled> = None;
        for candidate in &self.routes {
            if candidate.route.method != method && candidate.route.method != "ANY" {
                continue;
            }
            if !segments_match(&candidate.segments, &request) {
                continue;
            }
            best = Some(match best {
                None => candidate,
                Some(current) => {
                    if more_specific(candidate, current, method) {
                        candidate
                    } else {
                        current
                    }
                }
            });
        }
        let best = best?;
        let params = best
            .segments
            .iter()
            .zip(&request)
            .filter_map(|(seg, value)| match seg {
                Segment::Variable(name) => Some((name.clone(), percent_decode(value))),
                Segment::Literal(_) => None,
            })
            .collect();
        Some(Matched {
            route: &best.route,
            params,
        })
    }
}

fn segments_match(pattern: &[Segment], request: &[&str]) -> bool {
    pattern.len() == request.len()
        && pattern.iter().zip(request).all(|(seg, value)| match seg {
            Segment::Literal(lit) => lit == value,
            Segment::Variable(_) => !value.is_empty(),
        })
}

/// Whether `a` should win over `b` (both match the same request path).
fn more_specific(a: &Compiled, b: &Compiled, method: &str) -> bool {
    for (sa, sb) in a.segments.iter().zip(&b.segments) {
        match (sa, sb) {
            (Segment::Literal(_), Segment::Variable(_)) => return true,
            (Segment::Variable(_), Segment::Literal(_)) => return false,
            _ => {}
        }
    }
    // Same shape: the exact method beats ANY.
    a.route.method == method && b.route.method != method
}

/// Percent-decodes a path segment or query component. `+` stays `+` (it is form encoding, not
/// URL encoding); invalid escapes are kept as they are; invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query string into decoded (name, value) pairs, in order. `a` alone is `("a", "")`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str, function: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: function.into(),
            binary: function.to_lowercase(),
            authorizer: None,
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(&[
            route("GET", "/api/v1/sme-deliveries/{tracking_number}", "Read"),
            route("POST", "/api/v1/sme-deliveries/cancel", "Cancel"),
            route("GET", "/api/v1/sme-deliveries", "List"),
            route("POST", "/api/v1/sme-deliveries", "Submit"),
            route("GET", "/api/v1/things/{id}", "ThingVar"),
            route("GET", "/api/v1/things/special", "ThingLit"),
            route("ANY", "/api/v1/any/{x}", "AnyVar"),
            route("DELETE", "/api/v1/any/{x}", "DeleteVar"),
            route("GET", "/", "Root"),
        ])
    }

    fn found(t: &RouteTable, method: &str, path: &str) -> Option<(String, Vec<(String, String)>)> {
        t.find(method, path)
            .map(|m| (m.route.function.clone(), m.params))
    }

    #[test]
    fn matches_literal_and_templated_routes() {
        let t = table();
        assert_eq!(
            found(&t, "POST", "/api/v1/sme-deliveries").unwrap().0,
            "Submit"
        );
        assert_eq!(
            found(&t, "GET", "/api/v1/sme-deliveries").unwrap().0,
            "List"
        );
        assert_eq!(
            found(&t, "GET", "/api/v1/sme-deliveries/TN-1"),
            Some((
                "Read".into(),
                vec![("tracking_number".into(), "TN-1".into())]
            ))
        );
        assert_eq!(
            found(&t, "POST", "/api/v1/sme-deliveries/cancel")
                .unwrap()
                .0,
            "Cancel"
        );
        // GET .../cancel is the templated GET route with tracking_number "cancel".
        assert_eq!(
            found(&t, "GET", "/api/v1/sme-deliveries/cancel"),
            Some((
                "Read".into(),
                vec![("tracking_number".into(), "cancel".into())]
            ))
        );
        assert_eq!(found(&t, "GET", "/").unwrap().0, "Root");
    }

    #[test]
    fn literal_beats_variable_and_method_beats_any() {
        let t = table();
        assert_eq!(
            found(&t, "GET", "/api/v1/things/special").unwrap().0,
            "ThingLit"
        );
        assert_eq!(
            found(&t, "GET", "/api/v1/things/other").unwrap().0,
            "ThingVar"
        );
        assert_eq!(found(&t, "PUT", "/api/v1/any/1").unwrap().0, "AnyVar");
        assert_eq!(found(&t, "DELETE", "/api/v1/any/1").unwrap().0, "DeleteVar");
    }

    #[test]
    fn no_match_cases() {
        let t = table();
        assert_eq!(found(&t, "DELETE", "/api/v1/sme-deliveries"), None);
        assert_eq!(found(&t, "GET", "/api/v1/sme-deliveries/a/b"), None);
        assert_eq!(found(&t, "GET", "/api/v1/sme-deliveries/"), None);
        assert_eq!(found(&t, "GET", "/api/v1/sme-deliveries//"), None);
        assert_eq!(found(&t, "GET", "/API/v1/sme-deliveries"), None);
        assert_eq!(found(&t, "GET", "/api/v1/sme-deliveries%2Fx"), None);
        assert_eq!(found(&t, "GET", "api/v1/sme-deliveries"), None);
    }

    #[test]
    fn path_parameters_are_decoded_but_match_one_raw_segment() {
        let t = table();
        assert_eq!(
            found(&t, "GET", "/api/v1/sme-deliveries/a%2Fb%20c+d"),
            Some((
                "Read".into(),
                vec![("tracking_number".into(), "a/b c+d".into())]
            ))
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%2B07:00"), "+07:00");
        assert_eq!(
            parse_query("a=1&b=x%20y&a=2&flag&=v&"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "2".into()),
                ("flag".into(), "".into()),
                ("".into(), "v".into()),
            ]
        );
    }

    #[test]
    fn resource_path_validation() {
        assert!(validate_resource_path("/api/v1/x/{id}").is_ok());
        assert!(validate_resource_path("/").is_ok());
        assert!(validate_resource_path("api").is_err());
        assert!(validate_resource_path("/a//b").is_err());
        assert!(validate_resource_path("/a/x{id}").is_err());
        assert!(validate_resource_path("/a/{proxy+}").is_err());
    }
}
