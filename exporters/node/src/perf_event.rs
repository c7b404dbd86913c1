//! Counting `perf_event_open(2)` counters: open one for every process on one CPU, read its
//! running total. The crate's only `perf_event_open` call; nix has no wrapper, so it goes
//! through libc's `syscall` in one small `unsafe` function. The descriptor is an [`OwnedFd`]
//! inside a [`File`]: reads are plain `read(2)` and the counter closes when dropped.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `perf_event_attr.type` values (linux/perf_event.h).
pub(crate) const TYPE_HARDWARE: u32 = 0;
pub(crate) const TYPE_SOFTWARE: u32 = 1;
pub(crate) const TYPE_TRACEPOINT: u32 = 2;
pub(crate) const TYPE_HW_CACHE: u32 = 3;

/// `exclude_hv`, the 7th bit of the attribute flags: hypervisor time is not ours to count.
const EXCLUDE_HV: u64 = 1 << 6;
/// `PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING`, as upstream asks: a read
/// returns the value and the two times, 24 bytes.
const READ_FORMAT: u64 = 1 | 2;
const READ_SIZE: usize = 24;
/// `PERF_FLAG_FD_CLOEXEC`.
const FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// `struct perf_event_attr` as of its first version (`PERF_ATTR_SIZE_VER0`, 64 bytes): every
/// kernel with perf accepts it, and a counting event needs nothing of the later fields.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const ATTR_SIZE_VER0: u32 = 64;
const _: () = assert!(size_of::<Attr>() == ATTR_SIZE_VER0 as usize);

/// One open counter: every process's events of one kind on one CPU, counting since it was
/// opened.
#[derive(Debug)]
pub(crate) struct Counter {
    file: File,
}

impl Counter {
    /// Opens and starts a counter of `kind`/`config` for all processes on `cpu` (needs
    /// CAP_PERFMON or `perf_event_paranoid` below 1).
    pub(crate) fn open(kind: u32, config: u64, cpu: u32) -> io::Result<Counter> {
        let mut attr = Attr {
            kind,
            size: ATTR_SIZE_VER0,
            config,
            read_format: READ_FORMAT,
            flags: EXCLUDE_HV,
            ..Attr::default()
        };
        let cpu = libc::c_int::try_from(cpu)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cpu number too large"))?;
        let fd = perf_event_open(&mut attr, cpu)?;
        Ok(Counter {
            file: File::from(fd),
        })
    }

    /// The counter's raw total (not scaled by enabled/running time, as upstream reports it).
    pub(crate) fn read(&self) -> io::Result<u64> {
        let mut buffer = [0u8; READ_SIZE];
        (&self.file).read_exact(&mut buffer)?;
        let mut value = [0u8; 8];
        value.copy_from_slice(&buffer[..8]);
        Ok(u64::from_ne_bytes(value))
    }
}

#[allow(unsafe_code)]
fn perf_event_open(attr: &mut Attr, cpu: libc::c_int) -> io::Result<OwnedFd> {
    const ALL_PROCESSES: libc::pid_t = -1;
    const NO_GROUP: libc::c_int = -1;
    // SAFETY: `attr` is a valid, initialised perf_event_attr whose `size` field is its own size,
    // exclusively borrowed for the whole call: the kernel reads it and, on E2BIG, writes the size
    // it wants into `size`, within those bytes. The other arguments are plain integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            std::ptr::from_mut(attr),
            ALL_PROCESSES,
            cpu,
            NO_GROUP,
            FLAG_FD_CLOEXEC,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(ret)
        .map_err(|_| io::Error::other("perf_event_open returned an out-of-range descriptor"))?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns or closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
