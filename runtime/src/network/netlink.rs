//! A blocking rtnetlink socket, bound to the network namespace it was opened
//! in. One request at a time, answered by an acknowledgement or a dump, with
//! a receive timeout so that no caller waits on the kernel without bound.

use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// No rtnetlink request of ours should take longer; a kernel that does not
/// answer in this time is reported instead of waited on.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::header_length;

    #[test]
    fn an_undecodable_message_is_skipped_by_its_header_length() {
        let mut bytes = vec![0u8; 40];
        bytes[..4].copy_from_slice(&22u32.to_ne_bytes());
        assert_eq!(header_length(&bytes), Some(24));
        bytes[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(header_length(&bytes), None, "shorter than a header");
        bytes[..4].copy_from_slice(&400u32.to_ne_bytes());
        assert_eq!(header_length(&bytes), None, "longer than the datagram");
        assert_eq!(header_length(&bytes[..2]), None);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open a netlink socket: {0}")]
    Open(std::io::Error),
    #[error("netlink request failed: {0}")]
    Transport(std::io::Error),
    #[error("{}", std::io::Error::from_raw_os_error(*.0))]
    Refused(i32),
    #[error("cannot decode the kernel's netlink reply: {0}")]
    Decode(String),
}

impl NetlinkError {
    /// The errno of a request the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Refused(errno) => Some(*errno),
            _ => None,
        }
    }
}

/// The length field of the netlink header at the start of `bytes`, if it
/// is sane (4-byte aligned as the kernel pads, at least a header's size).
fn header_length(bytes: &[u8]) -> Option<usize> {
    let field: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let length = u32::from_ne_bytes(field) as usize;
    let aligned = (length + 3) & !3;
    (length >= 16 && aligned <= bytes.len()).then_some(aligned)
}

pub struct RouteSocket {
    socket: Socket,
    sequence: u32,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's current network namespace.
    pub fn open() -> Result<Self, NetlinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Open)?;
        socket.bind_auto().map_err(NetlinkError::Open)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Open)?;
        let timeout = libc::timeval {
            tv_sec: REPLY_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: SO_RCVTIMEO reads a timeval of the size we pass.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if result != 0 {
            return Err(NetlinkError::Open(std::io::Error::last_os_error()));
        }
        Ok(RouteSocket {
            socket,
            sequence: 0,
        })
    }

    /// Sends a request that changes something and waits for its
    /// acknowledgement. `flags` adds e.g. `NLM_F_CREATE | NLM_F_EXCL`.
    pub fn change(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError> {
        self.exchange(message, NLM_F_REQUEST | NLM_F_ACK | flags, false)
            .map(|_| ())
    }

    /// Sends a request for one object and returns the kernel's answer.
    pub fn get(
        &mut self,
        message: RouteNetlinkMessage,
    ) -> Result<Option<RouteNetlinkMessage>, NetlinkError> {
        Ok(self
            .exchange(message, NLM_F_REQUEST | NLM_F_ACK, false)?
            .into_iter()
            .next())
    }

    /// Sends a dump request and returns every message of the answer.
    pub fn dump(
        &mut self,
        message: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.exchange(message, NLM_F_REQUEST | NLM_F_DUMP, true)
    }

    fn exchange(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        is_dump: bool,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.sequence = self.sequence.wrapping_add(1);
        let sequence = self.sequence;
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(message));
        packet.header.flags = flags;
        packet.header.sequence_number = sequence;
        packet.finalize();
        let mut buffer = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .map_err(NetlinkError::Transport)?;

        let mut answers = Vec::new();
        loop {
            let (datagram, _) = self
                .socket
                .recv_from_full()
                .map_err(NetlinkError::Transport)?;
            let mut offset = 0;
            while offset < datagram.len() {
                let bytes = &datagram[offset..];
                let reply: NetlinkMessage<RouteNetlinkMessage> =
                    match NetlinkMessage::deserialize(bytes) {
                        Ok(reply) => reply,
                        // One message the crate cannot decode (a link kind
                        // or attribute it does not know, which a container
                        // can choose) must not hide the rest of a dump:
                        // skip it by the length in its header.
                        Err(error) => match header_length(bytes) {
                            Some(length) => {
                                offset += length;
                                continue;
                            }
                            None => return Err(NetlinkError::Decode(error.to_string())),
                        },
                    };
                let length = reply.header.length as usize;
                if length == 0 {
                    break;
                }
                offset += length;
                if reply.header.sequence_number != sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            None => Ok(answers),
                            Some(code) => Err(NetlinkError::Refused(-code.get())),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    NetlinkPayload::Overrun(_) => {
                        return Err(NetlinkError::Decode("the reply overran its buffer".into()))
                    }
                    _ => {}
                }
            }
            if !is_dump && datagram.is_empty() {
                return Ok(answers);
            }
        }
    }
}
