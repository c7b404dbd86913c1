//! gzip for responses, with one deflate state kept per thread.
//!
//! A fresh deflate state is a few hundred kilobytes that the allocator hands out zeroed; creating
//! one per scrape cost more CPU than encoding the metrics (callgrind: 40% of instructions in
//! memset). Go's promhttp pools its gzip writers for the same reason.

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

thread_local! {
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// The gzip member (RFC 1952) holding `data`.
pub fn compress(data: &[u8]) -> Vec<u8> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        // A 4 KiB window: metric lines repeat their names within a few lines, so a larger
        // window buys little and would keep more memory resident.
        let deflate = slot
            .get_or_insert_with(|| Compress::new_with_window_bits(Compression::fast(), false, 12));
        deflate.reset();
        let start_in = deflate.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let consumed = (deflate.total_in() - start_in) as usize;
            match deflate.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                Err(_) => unreachable!("deflate with Finish over a complete buffer cannot fail"),
            }
        }
    });
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    #[test]
    fn round_trips_through_a_standard_decoder() {
        for size in [0usize, 1, 100, 70_000, 300_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            for _ in 0..2 {
                let packed = super::compress(&data);
                let mut unpacked = Vec::new();
                flate2::read::GzDecoder::new(&packed[..])
                    .read_to_end(&mut unpacked)
                    .unwrap();
                assert_eq!(unpacked, data, "size {size}");
            }
        }
    }
}
