//! The framing of a D-Bus message (the specification's "Message Format") as far as a reader
//! needs it to find a message's length and to take one header field out: the fixed 16 bytes
//! (endianness, type, flags, version, body length, serial, length of the header fields), the
//! array of `(code, variant)` header fields, each aligned to 8, padding to 8, the body.
//!
//! Hand-written: zbus parses whole messages only and refuses the one field we drop
//! (see `dbus::systemd_private`).

/// The fixed part of the header, with the length of the header fields array.
pub const FIXED_LEN: usize = 16;

/// The largest message the specification allows (2^27 bytes).
const MAX_MESSAGE_LEN: usize = 128 * 1024 * 1024;

/// The header field holding the sender's name.
const SENDER: u8 = 7;

fn align8(len: usize) -> usize {
    len.div_ceil(8) * 8
}

fn read_u32(bytes: &[u8], at: usize, little: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(raw)
    } else {
        u32::from_be_bytes(raw)
    })
}

fn little_endian(bytes: &[u8]) -> Option<bool> {
    match bytes.first()? {
        b'l' => Some(true),
        b'B' => Some(false),
        _ => None,
    }
}

/// The whole message's length, from its first 16 bytes; `None` when they are not a D-Bus
/// header or announce more than the specification allows.
pub fn message_len(bytes: &[u8]) -> Option<usize> {
    let little = little_endian(bytes)?;
    let body = read_u32(bytes, 4, little)? as usize;
    let fields = read_u32(bytes, 12, little)? as usize;
    let total = align8(FIXED_LEN.checked_add(fields)?).checked_add(body)?;
    (total <= MAX_MESSAGE_LEN).then_some(total)
}

/// Where the header field starting at `start` ends (its last byte + 1), or `None` if it is
/// truncated or of a type no header field has.
fn field_end(fields: &[u8], start: usize, little: bool) -> Option<usize> {
    let signature_len = *fields.get(start + 1)? as usize;
    let signature = fields.get(start + 2..start + 2 + signature_len)?;
    let value = start + 3 + signature_len; // code, length byte, signature, its NUL
    let string_end = |at: usize| -> Option<usize> {
        let at = at.div_ceil(4) * 4;
        let len = read_u32(fields, at, little)? as usize;
        at.checked_add(4 + len + 1)
    };
    let end = match signature {
        b"s" | b"o" => string_end(value)?,
        b"g" => value + 1 + *fields.get(value)? as usize + 1,
        b"u" => value.div_ceil(4) * 4 + 4,
        _ => return None,
    };
    (end <= fields.len()).then_some(end)
}

/// `message` (complete) without its sender header field; `None` when it has none, or when its
/// header cannot be walked (it is then left for zbus to judge as it is).
pub fn without_sender(message: &[u8]) -> Option<Vec<u8>> {
    let little = little_endian(message)?;
    let total = message_len(message)?;
    if message.len() != total {
        return None;
    }
    let fields_len = read_u32(message, 12, little)? as usize;
    let fields = message.get(FIXED_LEN..FIXED_LEN + fields_len)?;
    let body = message.get(align8(FIXED_LEN + fields_len)..)?;
    // Offsets within `fields` keep the alignment of offsets within the message (16 is a
    // multiple of 8).
    let mut start = 0;
    let mut previous_end = 0;
    let removed = loop {
        if start >= fields.len() {
            return None;
        }
        let end = field_end(fields, start, little)?;
        if fields[start] == SENDER {
            break (start, end);
        }
        previous_end = end;
        start = align8(end);
    };
    let (start, end) = removed;
    let mut kept = Vec::with_capacity(fields.len());
    if align8(end) >= fields.len() {
        // The last field: the array ends where the one before it ended.
        kept.extend_from_slice(&fields[..previous_end.min(start)]);
    } else {
        // Both ends aligned to 8: every later field keeps its alignment.
        kept.extend_from_slice(&fields[..start]);
        kept.extend_from_slice(&fields[align8(end)..]);
    }
    let mut out = Vec::with_capacity(message.len());
    out.extend_from_slice(&message[..12]);
    let kept_len = u32::try_from(kept.len()).ok()?;
    out.extend_from_slice(&if little {
        kept_len.to_le_bytes()
    } else {
        kept_len.to_be_bytes()
    });
    out.extend_from_slice(&kept);
    out.resize(align8(out.len()), 0);
    out.extend_from_slice(body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A method return as systemd sends it on its private socket: reply serial, destination
    /// absent, sender `org.freedesktop.systemd1`, signature, in the given field order.
    fn reply(order: &[u8], body: &[u8]) -> Vec<u8> {
        let mut fields: Vec<u8> = Vec::new();
        for code in order {
            fields.resize(align8(fields.len()), 0);
            fields.push(*code);
            match *code {
                5 => {
                    fields.extend_from_slice(&[1, b'u', 0]);
                    fields.extend_from_slice(&7u32.to_le_bytes());
                }
                7 => {
                    let name = b"org.freedesktop.systemd1";
                    fields.extend_from_slice(&[1, b's', 0]);
                    fields.extend_from_slice(&(name.len() as u32).to_le_bytes());
                    fields.extend_from_slice(name);
                    fields.push(0);
                }
                8 => fields.extend_from_slice(&[1, b'g', 0, 1, b'v', 0]),
                _ => unreachable!(),
            }
        }
        let mut message = vec![b'l', 2, 1, 1];
        message.extend_from_slice(&(body.len() as u32).to_le_bytes());
        message.extend_from_slice(&3u32.to_le_bytes());
        message.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        message.extend_from_slice(&fields);
        message.resize(align8(message.len()), 0);
        message.extend_from_slice(body);
        message
    }

    #[test]
    fn the_sender_goes_wherever_it_is() {
        let body = [1, b's', 0, 0, 3, 0, 0, 0, b'2', b'5', b'2', 0];
        for order in [[7, 5, 8], [5, 7, 8], [5, 8, 7]] {
            let message = reply(&order, &body);
            assert_eq!(message_len(&message[..16]), Some(message.len()));
            let expected: Vec<u8> = order.iter().copied().filter(|c| *c != 7).collect();
            assert_eq!(
                without_sender(&message),
                Some(reply(&expected, &body)),
                "{order:?}"
            );
        }
        assert_eq!(without_sender(&reply(&[5, 8], &body)), None);
    }

    #[test]
    fn a_sender_alone_leaves_an_empty_array() {
        let message = reply(&[7], &[]);
        assert_eq!(without_sender(&message), Some(reply(&[], &[])));
    }

    #[test]
    fn bad_headers_are_left_alone() {
        assert_eq!(message_len(b"xyz"), None);
        assert_eq!(
            message_len(&[b'l', 1, 0, 1, 0, 0, 0, 0x10, 1, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
        let mut message = reply(&[5, 7], &[]);
        message[17] = 9; // a signature longer than the array
        assert_eq!(without_sender(&message), None);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..200) {
            let _ = message_len(&bytes);
            let _ = without_sender(&bytes);
            let message = reply(&[5, 7, 8], &bytes);
            let _ = without_sender(&message[..cut.min(message.len())]);
            let mut mangled = message.clone();
            if !bytes.is_empty() {
                let at = 16 + cut % (mangled.len() - 16);
                mangled[at] = bytes[0];
            }
            let _ = without_sender(&mangled);
        }
    }
}
