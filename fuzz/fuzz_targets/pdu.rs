//! What a peer sends on an association: any bytes read as PDUs (dicom-ul's reader, bounded by
//! our maximum PDU length), and each P-DATA value's bytes decoded as a DIMSE command set, as the
//! message layer does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lightbox_net::dimse::command::Command;

fuzz_target!(|data: &[u8]| {
    let _ = Command::decode(data);
    let mut buffer = data;
    while let Ok(Some(pdu)) = dicom_ul::pdu::read_pdu(&mut buffer, lightbox_net::dimse::MAX_PDU, false) {
        if let dicom_ul::Pdu::PData { data } = pdu {
            for value in data {
                let _ = Command::decode(&value.data);
            }
        }
    }
});
