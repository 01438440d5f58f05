//! Subscriptions (OAuth scopes) and the authenticated caller handed over by the authorizer.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Submit and cancel SME deliveries.
    Insurance,
    /// Insert tracking details.
    Tracking,
    /// Read deliveries, policies and their history; list with filters.
    ControlTower,
    /// File claims, add documents and notes, withdraw a claim (issue 13).
    Claims,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Insurance,
        Scope::Tracking,
        Scope::ControlTower,
        Scope::Claims,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Insurance => "insurance",
            Scope::Tracking => "tracking",
            Scope::ControlTower => "control_tower",
            Scope::Claims => "claims",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, written space-separated in tokens and responses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes(pub BTreeSet<Scope>);

impl Scopes {
    /// Parse a space-separated list; `Err(word)` names the first unknown word.
    pub fn parse(s: &str) -> Result<Scopes, String> {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| Scope::parse(w).ok_or_else(|| w.to_string()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Scopes)
    }

    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// The caller of an `/api/v1` route, as established by the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub partner_id: String,
    pub client_id: String,
    pub scopes: Scopes,
}

impl Principal {
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }

    /// Any one of `scopes` (the first is named when none is granted), e.g. claim reads: `claims`
    /// or `control_tower`.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.scopes.contains(**s)) {
            Some(_) => Ok(()),
            None => Err(ApiError::InsufficientScope(scopes[0])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print_in_a_stable_order() {
        let s = Scopes::parse("tracking  insurance").unwrap();
        assert_eq!(s.to_string(), "insurance tracking");
        assert_eq!(Scopes::parse("insurance admin").unwrap_err(), "admin");
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn require_names_the_missing_scope() {
        let p = Principal {
            partner_id: "p".into(),
            client_id: "c".into(),
            scopes: Scopes::parse("tracking").unwrap(),
        };
        assert!(p.require(Scope::Tracking).is_ok());
        assert_eq!(
            p.require(Scope::Insurance).unwrap_err(),
            ApiError::InsufficientScope(Scope::Insurance)
        );
    }
}
