//! Why the router opened no port, each reason one line for the user.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::Method;

/// Why [`PortMapping::open`](super::PortMapping::open) got no port.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("no router to ask for a port: this machine has no IPv4 default route")]
    NoGateway,
    #[error("the router would not open a port by {method}: {reason}")]
    Refused { method: Method, reason: String },
    #[error("the router did not answer NAT-PMP or UPnP within {}", Seconds(*.0))]
    TimedOut(Duration),
    #[error(
        "the router's external address {address} is private: it is behind \
         another NAT, where a port it opened would be no use"
    )]
    DoubleNat { method: Method, address: Ipv4Addr },
    #[error("cannot ask the router at {gateway} for a port: {cause}")]
    Network { gateway: Ipv4Addr, cause: io::Error },
    #[error("cannot ask the router for a port: {0}")]
    Local(io::Error),
}

impl MapError {
    /// Of two methods' failures, the one that tells the user more: a
    /// router's answer says more than silence.
    pub(super) fn telling(self, other: MapError) -> MapError {
        if other.weight() > self.weight() {
            other
        } else {
            self
        }
    }

    fn weight(&self) -> u8 {
        match self {
            Self::TimedOut(_) => 0,
            Self::NoGateway => 1,
            Self::Network { .. } | Self::Local(_) => 2,
            Self::Refused { .. } => 3,
            Self::DoubleNat { .. } => 4,
        }
    }
}

/// A duration in seconds as a person says it: "2 s", "2.5 s".
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0.as_millis().div_ceil(100);
        match tenths % 10 {
            0 => write!(f, "{} s", tenths / 10),
            rest => write!(f, "{}.{rest} s", tenths / 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_how_long_was_waited() {
        let said = |ms| MapError::TimedOut(Duration::from_millis(ms)).to_string();
        assert_eq!(
            said(2000),
            "the router did not answer NAT-PMP or UPnP within 2 s"
        );
        assert_eq!(
            said(2500),
            "the router did not answer NAT-PMP or UPnP within 2.5 s"
        );
    }

    #[test]
    fn an_answer_tells_more_than_silence() {
        let refused = || MapError::Refused {
            method: Method::NatPmp,
            reason: "result 2".into(),
        };
        let silence = || MapError::TimedOut(Duration::from_secs(2));
        assert!(matches!(
            silence().telling(refused()),
            MapError::Refused { .. }
        ));
        assert!(matches!(
            refused().telling(silence()),
            MapError::Refused { .. }
        ));
    }
}
