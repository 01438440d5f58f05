use std::fmt;

use serde::{Deserialize, Serialize};

/// The delivery status state machine of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Created,
    InProcess,
    InDelivery,
    Success,
    Fail,
    InReturn,
    Returned,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 7] = [
        DeliveryStatus::Created,
        DeliveryStatus::InProcess,
        DeliveryStatus::InDelivery,
        DeliveryStatus::Success,
        DeliveryStatus::Fail,
        DeliveryStatus::InReturn,
        DeliveryStatus::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Created => "created",
            DeliveryStatus::InProcess => "in_process",
            DeliveryStatus::InDelivery => "in_delivery",
            DeliveryStatus::Success => "success",
            DeliveryStatus::Fail => "fail",
            DeliveryStatus::InReturn => "in_return",
            DeliveryStatus::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Forward along created -> in_process -> in_delivery -> success | fail (skipping allowed),
    /// fail -> in_delivery (a new attempt), fail -> in_return, in_return -> returned, and staying put.
    pub fn can_move_to(self, to: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        self == to
            || matches!(
                (self, to),
                (Created, InProcess | InDelivery | Success | Fail)
                    | (InProcess, InDelivery | Success | Fail)
                    | (InDelivery, Success | Fail)
                    | (Fail, InDelivery | InReturn)
                    | (InReturn, Returned)
            )
    }

    /// The policy may be cancelled only before the parcel is out for delivery.
    pub fn allows_cancellation(self) -> bool {
        matches!(self, DeliveryStatus::Created | DeliveryStatus::InProcess)
    }

    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Success | DeliveryStatus::Returned)
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    Active,
    Cancelled,
}

impl PolicyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Active => "active",
            PolicyStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(PolicyStatus::Active),
            "cancelled" => Some(PolicyStatus::Cancelled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::{self, *};

    /// The whole transition table, row = from, column = to, in `ALL` order.
    #[test]
    fn transition_table() {
        let table: [[u8; 7]; 7] = [
            // cr ip id su fa ir re
            [1, 1, 1, 1, 1, 0, 0], // created
            [0, 1, 1, 1, 1, 0, 0], // in_process
            [0, 0, 1, 1, 1, 0, 0], // in_delivery
            [0, 0, 0, 1, 0, 0, 0], // success (final)
            [0, 0, 1, 0, 1, 1, 0], // fail
            [0, 0, 0, 0, 0, 1, 1], // in_return
            [0, 0, 0, 0, 0, 0, 1], // returned (final)
        ];
        for (i, from) in DeliveryStatus::ALL.into_iter().enumerate() {
            for (j, to) in DeliveryStatus::ALL.into_iter().enumerate() {
                assert_eq!(from.can_move_to(to), table[i][j] == 1, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn finals_and_cancellation() {
        assert!(Success.is_final() && Returned.is_final() && !Fail.is_final());
        assert!(Created.allows_cancellation() && InProcess.allows_cancellation());
        assert!(!InDelivery.allows_cancellation() && !Fail.allows_cancellation());
    }

    #[test]
    fn names_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("delivered"), None);
    }
}
