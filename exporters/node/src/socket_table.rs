//! The `/proc/net/{tcp,udp}{,6}` socket tables, streamed: read by `tcpstat` (when sock_diag is
//! unavailable) and `udp_queues`.

use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;

use crate::collector::CollectorError;

/// The columns of one socket line that the collectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketLine {
    pub state: u8,
    pub tx_queue: u64,
    pub rx_queue: u64,
}

/// Streams a `/proc/net/{tcp,udp}{,6}` table line by line through a reused buffer (the file can
/// be megabytes on a busy host; nothing per line is allocated) and calls `each` with the state and
/// the queue columns. `Ok(false)` when the file does not exist. A malformed line makes the file a
/// parse error, as upstream's procfs parser does.
///
/// Hand-written: procfs-core's `TcpNetEntries`/`UdpNetEntries` build a `Vec` of full entries
/// (addresses, inodes) for every socket, which is wasted work here.
pub(crate) fn scan_socket_table(
    path: &Path,
    mut each: impl FnMut(SocketLine),
) -> Result<bool, CollectorError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(CollectorError::io(path, err)),
    };
    // The kernel hands a seq_file over a page or so per read, whatever the buffer; 16 KiB
    // stays below glibc's 64 KiB free threshold that consolidates the whole heap.
    scan_reader(BufReader::with_capacity(16 * 1024, file), path, &mut each)?;
    Ok(true)
}

pub(crate) fn scan_reader(
    mut reader: impl BufRead,
    path: &Path,
    each: &mut impl FnMut(SocketLine),
) -> Result<(), CollectorError> {
    let mut line = Vec::with_capacity(256);
    let mut number = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|err| CollectorError::io(path, err))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if number == 1 || line.iter().all(u8::is_ascii_whitespace) {
            continue; // the header
        }
        let parsed = parse_socket_line(&line).ok_or_else(|| {
            CollectorError::parse(
                path,
                format!(
                    "line {number}: unexpected socket line {:?}",
                    String::from_utf8_lossy(&line).trim_end()
                ),
            )
        })?;
        each(parsed);
    }
}

/// `sl local_address rem_address st tx_queue:rx_queue ...`: the 4th and 5th columns, hex.
fn parse_socket_line(line: &[u8]) -> Option<SocketLine> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|field| !field.is_empty());
    let slot = fields.next()?;
    let (local, remote) = (fields.next()?, fields.next()?);
    if slot.last() != Some(&b':') || !local.contains(&b':') || !remote.contains(&b':') {
        return None;
    }
    let state = u8::try_from(parse_hex(fields.next()?)?).ok()?;
    let queues = fields.next()?;
    let colon = queues.iter().position(|&b| b == b':')?;
    Some(SocketLine {
        state,
        tx_queue: parse_hex(&queues[..colon])?,
        rx_queue: parse_hex(&queues[colon + 1..])?,
    })
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &digit| {
        let value = char::from(digit).to_digit(16)?;
        Some((acc << 4) | u64::from(value))
    })
}
