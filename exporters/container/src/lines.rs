//! Reading a kernel text file line by line through one fixed buffer, for files whose size the
//! exporter does not control: `/proc/<pid>/net/tcp` lists every socket of a network namespace
//! (a container can open hundreds of thousands) and `/proc/<pid>/smaps` every mapping of a
//! process. Memory stays at the buffer's size whatever the file's; a line longer than the buffer
//! (no kernel line comes close) is skipped and counted, never split.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

/// The buffer size: a page-sized kernel read fits many times over.
const BUFFER: usize = 64 * 1024;

/// What a pass over a file saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub lines: u64,
    /// Lines longer than the buffer, skipped whole.
    pub overlong: u64,
}

#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader {
            buf: vec![0; BUFFER],
        }
    }
}

impl LineReader {
    /// Calls `line` with every line of `path` (without its `\n`), in order.
    pub fn for_each_line(&mut self, path: &Path, line: impl FnMut(&[u8])) -> std::io::Result<Pass> {
        let file = File::open(path)?;
        self.for_each_line_of(file, line)
    }

    /// [`for_each_line`](Self::for_each_line) on any reader (tests feed it slices).
    pub fn for_each_line_of(
        &mut self,
        mut source: impl std::io::Read,
        mut line: impl FnMut(&[u8]),
    ) -> std::io::Result<Pass> {
        let mut pass = Pass::default();
        let mut filled = 0;
        // Inside a line longer than the buffer: drop bytes until its end.
        let mut skipping = false;
        loop {
            let read = match source.read(&mut self.buf[filled..]) {
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if read == 0 {
                if filled > 0 && !skipping {
                    pass.lines += 1;
                    line(&self.buf[..filled]);
                }
                return Ok(pass);
            }
            let end = filled + read;
            let mut start = 0;
            while let Some(offset) = self.buf[start..end].iter().position(|b| *b == b'\n') {
                let stop = start + offset;
                if skipping {
                    skipping = false;
                } else {
                    pass.lines += 1;
                    line(&self.buf[start..stop]);
                }
                start = stop + 1;
            }
            if start == 0 && end == self.buf.len() {
                // A whole buffer without a newline.
                if !skipping {
                    pass.overlong += 1;
                }
                skipping = true;
                filled = 0;
            } else {
                self.buf.copy_within(start..end, 0);
                filled = end - start;
            }
        }
    }
}

/// The whitespace-separated fields of a line.
pub fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hands out at most `chunk` bytes per read, as the kernel hands out a page at a time.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl std::io::Read for Chunked<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.len().min(self.chunk).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn lines_of(data: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Pass) {
        let mut out = Vec::new();
        let pass = LineReader::default()
            .for_each_line_of(Chunked { data, chunk }, |l| out.push(l.to_vec()))
            .unwrap();
        (out, pass)
    }

    #[test]
    fn lines_across_reads_and_overlong_lines() {
        let (lines, pass) = lines_of(b"a b\n\ncd\nlast", 3);
        assert_eq!(lines, [&b"a b"[..], b"", b"cd", b"last"]);
        assert_eq!(pass.overlong, 0);
        let mut data = b"short\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', BUFFER * 2 + 5));
        data.extend(b"\nafter\n");
        let (lines, pass) = lines_of(&data, 4096);
        assert_eq!(lines, [&b"short"[..], b"after"]);
        assert_eq!(
            pass,
            Pass {
                lines: 2,
                overlong: 1
            }
        );
        let fields: Vec<&[u8]> = fields(b"  0: 0100007F:1F90  0A \t x").collect();
        assert_eq!(fields, [&b"0:"[..], b"0100007F:1F90", b"0A", b"x"]);
    }

    #[test]
    fn reads_a_proc_file_to_the_end() {
        let mut count = 0;
        LineReader::default()
            .for_each_line(Path::new("/proc/self/maps"), |_| count += 1)
            .unwrap();
        assert!(count > 5, "{count}");
    }

    proptest! {
        #[test]
        fn every_byte_is_in_some_line(data in proptest::collection::vec(any::<u8>(), 0..3000), chunk in 1usize..300) {
            let (lines, pass) = lines_of(&data, chunk);
            let joined: Vec<u8> = lines.join(&b'\n');
            let expected = data.strip_suffix(b"\n").unwrap_or(&data);
            prop_assert_eq!(joined, expected.to_vec());
            prop_assert_eq!(pass.overlong, 0);
        }
    }
}
