//! NAT-PMP's messages on the wire (RFC 6886 §3): the two requests a client
//! sends and the router's replies, as pure encoding and decoding.
//!
//! Both directions are here so that a test can play the router with the
//! same code; the client only encodes requests and decodes replies.

use std::net::Ipv4Addr;
use std::num::NonZeroU16;

/// The UDP port a NAT-PMP router listens on (RFC 6886 §3).
pub const PORT: u16 = 5351;

/// The only version there is; a reply of another is not for us.
const VERSION: u8 = 0;
/// Added to the request's opcode in its reply.
const REPLY: u8 = 128;
const OP_EXTERNAL_ADDRESS: u8 = 0;
const OP_MAP_UDP: u8 = 1;
const OP_MAP_TCP: u8 = 2;

const MAP_REQUEST_LEN: usize = 12;
/// Version, opcode, result code and epoch: all an error reply must carry.
const REPLY_HEADER_LEN: usize = 8;
const EXTERNAL_ADDRESS_REPLY_LEN: usize = 12;
const MAP_REPLY_LEN: usize = 16;

/// What a mapping carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Udp,
    Tcp,
}

impl Protocol {
    fn opcode(self) -> u8 {
        match self {
            Self::Udp => OP_MAP_UDP,
            Self::Tcp => OP_MAP_TCP,
        }
    }

    fn from_opcode(opcode: u8) -> Option<Self> {
        match opcode {
            OP_MAP_UDP => Some(Self::Udp),
            OP_MAP_TCP => Some(Self::Tcp),
            _ => None,
        }
    }
}

/// What a request asks for; its reply answers the same opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    ExternalAddress,
    Map(Protocol),
}

impl Opcode {
    fn byte(self) -> u8 {
        match self {
            Self::ExternalAddress => OP_EXTERNAL_ADDRESS,
            Self::Map(protocol) => protocol.opcode(),
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            OP_EXTERNAL_ADDRESS => Some(Self::ExternalAddress),
            byte => Protocol::from_opcode(byte).map(Self::Map),
        }
    }
}

/// A client's request (RFC 6886 §3.2, §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// What is the router's external IPv4 address?
    ExternalAddress,
    /// Forward `suggested` (0: any) to `internal` on the asking host for
    /// `lifetime` seconds; a lifetime of 0 removes the mapping.
    Map {
        protocol: Protocol,
        internal: u16,
        suggested: u16,
        lifetime: u32,
    },
}

impl Request {
    /// What its reply must answer.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::ExternalAddress => Opcode::ExternalAddress,
            Self::Map { protocol, .. } => Opcode::Map(*protocol),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION, self.opcode().byte()];
        if let Self::Map {
            internal,
            suggested,
            lifetime,
            ..
        } = self
        {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&internal.to_be_bytes());
            out.extend_from_slice(&suggested.to_be_bytes());
            out.extend_from_slice(&lifetime.to_be_bytes());
        }
        out
    }

    /// A request as a router reads it; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Request> {
        let (&[version, opcode], rest) = bytes.split_first_chunk()?;
        if version != VERSION {
            return None;
        }
        match Opcode::from_byte(opcode)? {
            Opcode::ExternalAddress => Some(Request::ExternalAddress),
            Opcode::Map(protocol) => {
                let body = rest.get(..MAP_REQUEST_LEN - 2)?;
                Some(Request::Map {
                    protocol,
                    internal: u16_at(body, 2),
                    suggested: u16_at(body, 4),
                    lifetime: u32_at(body, 6),
                })
            }
        }
    }
}

/// A router's reply (RFC 6886 §3.2, §3.3, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The request was refused with this result code (§3.5: 1 unsupported
    /// version, 2 not authorized, 3 network failure, 4 out of resources,
    /// 5 unsupported opcode).
    Refused {
        opcode: Opcode,
        result: NonZeroU16,
        epoch: u32,
    },
    ExternalAddress {
        epoch: u32,
        address: Ipv4Addr,
    },
    /// `external` now forwards to `internal` for `lifetime` seconds.
    Mapped {
        protocol: Protocol,
        epoch: u32,
        internal: u16,
        external: u16,
        lifetime: u32,
    },
}

/// Why a datagram is not a reply the client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("a NAT-PMP reply of {0} bytes is too short")]
    TooShort(usize),
    #[error("a NAT-PMP reply of version {0}, not 0")]
    Version(u8),
    #[error("NAT-PMP opcode {0} is not a reply the client knows")]
    Opcode(u8),
}

impl Reply {
    /// What request it answers.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Refused { opcode, .. } => *opcode,
            Self::ExternalAddress { .. } => Opcode::ExternalAddress,
            Self::Mapped { protocol, .. } => Opcode::Map(*protocol),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let (result, epoch) = match self {
            Self::Refused { result, epoch, .. } => (result.get(), *epoch),
            Self::ExternalAddress { epoch, .. } | Self::Mapped { epoch, .. } => (0, *epoch),
        };
        let mut out = vec![VERSION, REPLY + self.opcode().byte()];
        out.extend_from_slice(&result.to_be_bytes());
        out.extend_from_slice(&epoch.to_be_bytes());
        match self {
            Self::Refused { .. } => {}
            Self::ExternalAddress { address, .. } => out.extend_from_slice(&address.octets()),
            Self::Mapped {
                internal,
                external,
                lifetime,
                ..
            } => {
                out.extend_from_slice(&internal.to_be_bytes());
                out.extend_from_slice(&external.to_be_bytes());
                out.extend_from_slice(&lifetime.to_be_bytes());
            }
        }
        out
    }

    /// A datagram from the router. Bytes past what the reply needs are
    /// ignored; an error reply may stop after its header (§3.5).
    pub fn decode(bytes: &[u8]) -> Result<Reply, ReplyError> {
        let header = bytes
            .get(..REPLY_HEADER_LEN)
            .ok_or(ReplyError::TooShort(bytes.len()))?;
        if header[0] != VERSION {
            return Err(ReplyError::Version(header[0]));
        }
        let opcode = header[1]
            .checked_sub(REPLY)
            .and_then(Opcode::from_byte)
            .ok_or(ReplyError::Opcode(header[1]))?;
        let epoch = u32_at(header, 4);
        if let Some(result) = NonZeroU16::new(u16_at(header, 2)) {
            return Ok(Reply::Refused {
                opcode,
                result,
                epoch,
            });
        }
        let need = match opcode {
            Opcode::ExternalAddress => EXTERNAL_ADDRESS_REPLY_LEN,
            Opcode::Map(_) => MAP_REPLY_LEN,
        };
        let body = bytes
            .get(REPLY_HEADER_LEN..need)
            .ok_or(ReplyError::TooShort(bytes.len()))?;
        Ok(match opcode {
            Opcode::ExternalAddress => Reply::ExternalAddress {
                epoch,
                address: Ipv4Addr::from(u32_at(body, 0)),
            },
            Opcode::Map(protocol) => Reply::Mapped {
                protocol,
                epoch,
                internal: u16_at(body, 0),
                external: u16_at(body, 2),
                lifetime: u32_at(body, 4),
            },
        })
    }
}

/// What a result code means (RFC 6886 §3.5), for a person reading it.
pub fn result_meaning(result: NonZeroU16) -> &'static str {
    match result.get() {
        1 => "unsupported version",
        2 => "not authorized or refused",
        3 => "network failure",
        4 => "out of resources",
        5 => "unsupported opcode",
        _ => "unknown result code",
    }
}

/// The big-endian u16 at `at`; the caller has checked the length.
fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// The big-endian u32 at `at`; the caller has checked the length.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn replies_seen_from_miniupnpd_decode() {
        assert_eq!(
            Reply::decode(&hex("0080000000009d840b00000b")),
            Ok(Reply::ExternalAddress {
                epoch: 0x9d84,
                address: Ipv4Addr::new(11, 0, 0, 11),
            })
        );
        assert_eq!(
            Reply::decode(&hex("0082000000009d8413ba13ba00000078")),
            Ok(Reply::Mapped {
                protocol: Protocol::Tcp,
                epoch: 0x9d84,
                internal: 5050,
                external: 5050,
                lifetime: 120,
            })
        );
    }

    #[test]
    fn requests_encode_as_rfc_6886_lays_them_out() {
        assert_eq!(Request::ExternalAddress.encode(), hex("0000"));
        let map = Request::Map {
            protocol: Protocol::Tcp,
            internal: 5050,
            suggested: 5050,
            lifetime: 3600,
        };
        assert_eq!(map.encode(), hex("0002000013ba13ba00000e10"));
    }

    #[test]
    fn an_error_reply_may_end_after_its_header() {
        assert_eq!(
            Reply::decode(&hex("0082000200000001")),
            Ok(Reply::Refused {
                opcode: Opcode::Map(Protocol::Tcp),
                result: NonZeroU16::new(2).unwrap(),
                epoch: 1,
            })
        );
    }

    #[test]
    fn what_is_not_a_reply_is_refused() {
        assert_eq!(Reply::decode(&[]), Err(ReplyError::TooShort(0)));
        assert_eq!(
            Reply::decode(&hex("0080000000000001")),
            Err(ReplyError::TooShort(8))
        );
        assert_eq!(
            Reply::decode(&hex("0180000000000001")),
            Err(ReplyError::Version(1))
        );
        // A request echoed back, and a reply to an opcode that does not exist.
        assert_eq!(
            Reply::decode(&hex("0002000013ba13ba00000e10")),
            Err(ReplyError::Opcode(2))
        );
        assert_eq!(
            Reply::decode(&hex("0083000000000001")),
            Err(ReplyError::Opcode(0x83))
        );
    }

    fn protocol() -> impl Strategy<Value = Protocol> {
        prop_oneof![Just(Protocol::Udp), Just(Protocol::Tcp)]
    }

    fn opcode() -> impl Strategy<Value = Opcode> {
        prop_oneof![
            Just(Opcode::ExternalAddress),
            protocol().prop_map(Opcode::Map)
        ]
    }

    fn request() -> impl Strategy<Value = Request> {
        prop_oneof![
            Just(Request::ExternalAddress),
            (protocol(), any::<u16>(), any::<u16>(), any::<u32>()).prop_map(
                |(protocol, internal, suggested, lifetime)| Request::Map {
                    protocol,
                    internal,
                    suggested,
                    lifetime,
                }
            ),
        ]
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            (opcode(), 1u16.., any::<u32>()).prop_map(|(opcode, result, epoch)| {
                Reply::Refused {
                    opcode,
                    result: NonZeroU16::new(result).unwrap(),
                    epoch,
                }
            }),
            (any::<u32>(), any::<u32>()).prop_map(|(epoch, address)| Reply::ExternalAddress {
                epoch,
                address: Ipv4Addr::from(address),
            }),
            (
                protocol(),
                any::<u32>(),
                any::<u16>(),
                any::<u16>(),
                any::<u32>()
            )
                .prop_map(|(protocol, epoch, internal, external, lifetime)| {
                    Reply::Mapped {
                        protocol,
                        epoch,
                        internal,
                        external,
                        lifetime,
                    }
                }),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Reply::decode(&bytes);
            let _ = Request::decode(&bytes);
        }

        #[test]
        fn replies_round_trip(reply in reply(), trailing in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = reply.encode();
            prop_assert_eq!(Reply::decode(&bytes), Ok(reply));
            bytes.extend_from_slice(&trailing);
            prop_assert_eq!(Reply::decode(&bytes), Ok(reply));
        }

        #[test]
        fn requests_round_trip(request in request()) {
            prop_assert_eq!(Request::decode(&request.encode()), Some(request));
        }

        #[test]
        fn a_cut_reply_never_decodes_as_a_success(reply in reply(), cut in 0usize..16) {
            let bytes = reply.encode();
            let cut = cut.min(bytes.len().saturating_sub(1));
            let success = matches!(
                Reply::decode(&bytes[..cut]),
                Ok(Reply::ExternalAddress { .. } | Reply::Mapped { .. })
            );
            prop_assert!(!success);
        }
    }
}
