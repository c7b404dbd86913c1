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
    compress_stream(data.len(), |write| write(data))
}

/// The gzip member holding everything `produce` writes through the function it is given:
/// the input is compressed as it arrives, so it never has to exist whole. `size_hint` (the
/// expected input size) sizes the output buffer.
pub fn compress_stream(size_hint: usize, produce: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Vec<u8> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    let mut out = Vec::with_capacity(size_hint / 3 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let mut crc = Crc::new();
    let mut total: u64 = 0;
    DEFLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        // A 32 KiB window (deflate's largest). Metric lines repeat their names within a few
        // lines, so the window's reach buys little ratio; what it sets is how often deflate
        // slides it, rewriting its whole 64 Ki-entry hash table each time: every window's worth
        // of input past the first two. A 4 KiB window made a 4 MB exposition (the container
        // exporter at 1,000 cgroups) spend more time sliding than compressing; at 16 KiB the
        // node exporter's 54 KB exposition still slid three times per scrape (3 % of its CPU),
        // at 32 KiB it never does, for 64 KiB more memory.
        let deflate = slot
            .get_or_insert_with(|| Compress::new_with_window_bits(Compression::fast(), false, 15));
        deflate.reset();
        let mut feed = |input: &[u8], flush: FlushCompress, out: &mut Vec<u8>| {
            let start_in = deflate.total_in();
            loop {
                if out.capacity() - out.len() < 64 {
                    out.reserve(out.capacity().max(1024));
                }
                let consumed = (deflate.total_in() - start_in) as usize;
                let status = deflate
                    .compress_vec(&input[consumed..], out, flush)
                    .unwrap_or(Status::StreamEnd);
                let consumed = (deflate.total_in() - start_in) as usize;
                let done = match flush {
                    FlushCompress::Finish => status == Status::StreamEnd,
                    _ => consumed == input.len() && out.capacity() > out.len(),
                };
                if done {
                    break;
                }
            }
        };
        produce(&mut |chunk: &[u8]| {
            crc.update(chunk);
            total += chunk.len() as u64;
            feed(chunk, FlushCompress::None, &mut out);
        });
        feed(&[], FlushCompress::Finish, &mut out);
    });
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // RFC 1952: the input size modulo 2^32.
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    #[test]
    fn streamed_input_round_trips() {
        let data: Vec<u8> = (0..200_000usize).map(|i| (i % 97) as u8).collect();
        let packed = super::compress_stream(data.len(), |write| {
            for chunk in data.chunks(777) {
                write(chunk);
            }
        });
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, data);
    }

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
