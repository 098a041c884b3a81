//! DIMSE command sets (PS3.7 E): group 0000 elements, always implicit VR little endian.

use super::DimseError;
use std::collections::BTreeMap;

/// Command Field values (PS3.7 E.1).
pub mod field {
    pub const C_STORE_RQ: u16 = 0x0001;
    pub const C_STORE_RSP: u16 = 0x8001;
    pub const C_GET_RQ: u16 = 0x0010;
    pub const C_GET_RSP: u16 = 0x8010;
    pub const C_FIND_RQ: u16 = 0x0020;
    pub const C_FIND_RSP: u16 = 0x8020;
    pub const C_MOVE_RQ: u16 = 0x0021;
    pub const C_MOVE_RSP: u16 = 0x8021;
    pub const C_ECHO_RQ: u16 = 0x0030;
    pub const C_ECHO_RSP: u16 = 0x8030;
    pub const C_CANCEL_RQ: u16 = 0x0FFF;
}

/// Element numbers within group 0000.
pub mod element {
    pub const AFFECTED_SOP_CLASS_UID: u16 = 0x0002;
    pub const COMMAND_FIELD: u16 = 0x0100;
    pub const MESSAGE_ID: u16 = 0x0110;
    pub const MESSAGE_ID_BEING_RESPONDED_TO: u16 = 0x0120;
    pub const MOVE_DESTINATION: u16 = 0x0600;
    pub const PRIORITY: u16 = 0x0700;
    pub const COMMAND_DATA_SET_TYPE: u16 = 0x0800;
    pub const STATUS: u16 = 0x0900;
    pub const ERROR_COMMENT: u16 = 0x0902;
    pub const AFFECTED_SOP_INSTANCE_UID: u16 = 0x1000;
    pub const REMAINING_SUBOPERATIONS: u16 = 0x1020;
    pub const COMPLETED_SUBOPERATIONS: u16 = 0x1021;
    pub const FAILED_SUBOPERATIONS: u16 = 0x1022;
    pub const WARNING_SUBOPERATIONS: u16 = 0x1023;
    pub const MOVE_ORIGINATOR_AE_TITLE: u16 = 0x1030;
    pub const MOVE_ORIGINATOR_MESSAGE_ID: u16 = 0x1031;
}

/// "No data set follows" (any other Command Data Set Type value means one does).
const NO_DATA_SET: u16 = 0x0101;
/// Command sets are small; anything larger is not a command set.
const MAX_COMMAND_BYTES: usize = 64 << 10;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    elements: BTreeMap<u16, Vec<u8>>,
}

/// Which text elements are UIDs (padded with NUL) rather than AE titles or text (padded with space).
fn is_uid(element: u16) -> bool {
    matches!(
        element,
        element::AFFECTED_SOP_CLASS_UID | element::AFFECTED_SOP_INSTANCE_UID | 0x0003 | 0x1001
    )
}

impl Command {
    pub fn new(command_field: u16, has_data_set: bool) -> Command {
        let mut c = Command::default();
        c.set_u16(element::COMMAND_FIELD, command_field);
        c.set_u16(
            element::COMMAND_DATA_SET_TYPE,
            if has_data_set { 0x0000 } else { NO_DATA_SET },
        );
        c
    }

    pub fn set_u16(&mut self, element: u16, value: u16) -> &mut Self {
        self.elements.insert(element, value.to_le_bytes().to_vec());
        self
    }

    pub fn set_str(&mut self, element: u16, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        if bytes.len() % 2 == 1 {
            bytes.push(if is_uid(element) { 0 } else { b' ' });
        }
        self.elements.insert(element, bytes);
        self
    }

    pub fn u16(&self, element: u16) -> Option<u16> {
        let b = self.elements.get(&element)?;
        (b.len() >= 2).then(|| u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn str(&self, element: u16) -> Option<String> {
        let b = self.elements.get(&element)?;
        let s = String::from_utf8_lossy(b)
            .trim_matches(|c: char| c == '\0' || c == ' ')
            .to_string();
        (!s.is_empty()).then_some(s)
    }

    pub fn field(&self) -> u16 {
        self.u16(element::COMMAND_FIELD).unwrap_or(0)
    }

    pub fn has_data_set(&self) -> bool {
        self.u16(element::COMMAND_DATA_SET_TYPE)
            .is_some_and(|t| t != NO_DATA_SET)
    }

    pub fn status(&self) -> Option<u16> {
        self.u16(element::STATUS)
    }

    pub fn message_id(&self) -> u16 {
        self.u16(element::MESSAGE_ID).unwrap_or(0)
    }

    /// Encodes with the (0000,0000) group length first, as PS3.7 requires.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (element, value) in &self.elements {
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&element.to_le_bytes());
            body.extend_from_slice(&(value.len() as u32).to_le_bytes());
            body.extend_from_slice(value);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Command, DimseError> {
        if bytes.len() > MAX_COMMAND_BYTES {
            return Err(DimseError::Protocol(format!(
                "command set of {} bytes",
                bytes.len()
            )));
        }
        let mut c = Command::default();
        let mut pos = 0;
        while pos + 8 <= bytes.len() {
            let group = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
            let element = u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]);
            let len = u32::from_le_bytes([
                bytes[pos + 4],
                bytes[pos + 5],
                bytes[pos + 6],
                bytes[pos + 7],
            ]) as usize;
            pos += 8;
            if group != 0 {
                return Err(DimseError::Protocol(format!(
                    "element ({group:04X},{element:04X}) in a command set"
                )));
            }
            let value = bytes.get(pos..pos.saturating_add(len)).ok_or_else(|| {
                DimseError::Protocol(format!(
                    "command element (0000,{element:04X}) overruns the command set"
                ))
            })?;
            if element != 0x0000 {
                c.elements.insert(element, value.to_vec());
            }
            pos += len;
        }
        if c.u16(element::COMMAND_FIELD).is_none() {
            return Err(DimseError::Protocol(
                "command set without a Command Field".into(),
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let mut c = Command::new(field::C_STORE_RQ, true);
        c.set_u16(element::MESSAGE_ID, 7)
            .set_str(element::AFFECTED_SOP_CLASS_UID, "1.2.3")
            .set_str(element::MOVE_ORIGINATOR_AE_TITLE, "ABC");
        let bytes = c.encode();
        assert_eq!(
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            bytes.len() - 12
        );
        let d = Command::decode(&bytes).unwrap();
        assert_eq!(d, c);
        assert_eq!(d.str(element::AFFECTED_SOP_CLASS_UID).unwrap(), "1.2.3");
        assert_eq!(d.str(element::MOVE_ORIGINATOR_AE_TITLE).unwrap(), "ABC");
        assert!(d.has_data_set());
        assert_eq!(d.message_id(), 7);
    }

    #[test]
    fn malformed_command_sets_are_errors() {
        assert!(Command::decode(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
        assert!(Command::decode(&[8, 0, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(Command::decode(&[]).is_err());
    }
}
