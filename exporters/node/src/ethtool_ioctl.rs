//! The legacy ethtool ioctl (`SIOCETHTOOL` on an `AF_INET` datagram socket): driver information
//! (`ETHTOOL_GDRVINFO`), the driver's statistics (`ETHTOOL_GSTRINGS` + `ETHTOOL_GSTATS`) and the
//! 32-bit link settings (`ETHTOOL_GSET`), as safchain/ethtool reads them for upstream's
//! `ethtool` collector.
//!
//! The ioctl is the only `unsafe` here, in one function; every buffer handed to the kernel is a
//! `u64` slice (aligned for `ethtool_stats`), and everything the kernel writes is parsed from
//! plain bytes with bounds checks, so a short or odd reply is an error, never a panic.
//!
//! Why the ioctl and not ethtool's generic netlink family: the driver-private statistics
//! (`ethtool -S`) exist only through `ETHTOOL_GSTATS`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

const ETHTOOL_GSET: u32 = 0x01;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
const IFNAMSIZ: usize = 16;
/// `struct ethtool_drvinfo`: command, five 32-byte strings, 12 reserved bytes, five counts.
const DRVINFO_LEN: usize = 196;
/// `struct ethtool_cmd`.
const CMD_LEN: usize = 44;
/// The most statistics accepted from one device (safchain/ethtool's `MAX_GSTRINGS`); the
/// string and value buffers are sized for this many whatever the device reports (see `call`).
pub const MAX_STATS: usize = 32768;

/// `ETHTOOL_GDRVINFO`'s strings and statistics count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverInfo {
    pub driver: String,
    pub version: String,
    pub firmware_version: String,
    pub bus_info: String,
    pub expansion_rom_version: String,
    pub n_stats: u32,
}

/// `ETHTOOL_GSET`'s legacy link-mode masks (`ethtool_link_mode_bit_indices` below 32).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkSettings {
    pub supported: u32,
    pub advertising: u32,
    pub autoneg: u8,
}

/// A socket to ask the kernel about network devices.
pub struct Ethtool {
    fd: OwnedFd,
}

impl Ethtool {
    pub fn open() -> io::Result<Ethtool> {
        let fd = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        Ok(Ethtool { fd })
    }

    pub fn driver_info(&self, device: &str) -> io::Result<DriverInfo> {
        let mut buffer = command_buffer(ETHTOOL_GDRVINFO, 0, DRVINFO_LEN);
        call(&self.fd, device, &mut buffer)?;
        parse_driver_info(&bytes(&buffer))
    }

    pub fn link_settings(&self, device: &str) -> io::Result<LinkSettings> {
        let mut buffer = command_buffer(ETHTOOL_GSET, 0, CMD_LEN);
        call(&self.fd, device, &mut buffer)?;
        parse_link_settings(&bytes(&buffer))
    }

    /// The driver's statistics, `(name, value)` in the driver's order; nameless ones dropped.
    pub fn stats(&self, device: &str) -> io::Result<Vec<(String, u64)>> {
        let count = self.driver_info(device)?.n_stats as usize;
        if count > MAX_STATS {
            return Err(io::Error::other(format!(
                "ethtool currently doesn't support more than {MAX_STATS} entries, received {count}"
            )));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        // ethtool_gstrings: command, string set, count, then 32 bytes per name.
        let mut strings = command_buffer(ETHTOOL_GSTRINGS, ETH_SS_STATS, 12 + MAX_STATS * 32);
        set_u32(&mut strings, 8, count as u32);
        call(&self.fd, device, &mut strings)?;
        // ethtool_stats: command, count, then one u64 per value.
        let mut values = command_buffer(ETHTOOL_GSTATS, count as u32, 8 + MAX_STATS * 8);
        call(&self.fd, device, &mut values)?;
        parse_stats(&prefix(&strings, 8, 12, 32), &prefix(&values, 4, 8, 8))
    }
}

/// A zeroed buffer of at least `len` bytes starting with the command word and, at offset 4,
/// `second` (the string set or the count). Zeroed pages of a large buffer are never touched,
/// so the headroom costs address space, not resident memory.
fn command_buffer(command: u32, second: u32, len: usize) -> Vec<u64> {
    let mut buffer = vec![0u64; len.max(DRVINFO_LEN).div_ceil(8)];
    set_u32(&mut buffer, 0, command);
    set_u32(&mut buffer, 4, second);
    buffer
}

/// Writes a native-endian u32 at byte offset `at` (a multiple of 4).
fn set_u32(buffer: &mut [u64], at: usize, value: u32) {
    if let Some(word) = buffer.get_mut(at / 8) {
        let mut bytes = word.to_ne_bytes();
        bytes[at % 8..at % 8 + 4].copy_from_slice(&value.to_ne_bytes());
        *word = u64::from_ne_bytes(bytes);
    }
}

fn bytes(buffer: &[u64]) -> Vec<u8> {
    buffer.iter().flat_map(|word| word.to_ne_bytes()).collect()
}

/// The bytes of a variable-length reply: its header and as many entries as the count the
/// kernel wrote at `count_at` says (at most [`MAX_STATS`]), leaving the untouched rest alone.
fn prefix(buffer: &[u64], count_at: usize, header: usize, entry: usize) -> Vec<u8> {
    let head = bytes(buffer.get(..2).unwrap_or(buffer));
    let count = u32_at(&head, count_at).map_or(0, |c| (c as usize).min(MAX_STATS));
    let len = (header + count * entry).div_ceil(8);
    bytes(buffer.get(..len).unwrap_or(buffer))
}

fn u32_at(data: &[u8], at: usize) -> io::Result<u32> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or_else(|| io::Error::other("short ethtool reply"))
}

/// A fixed-size C string field: up to its first NUL.
fn c_string(data: &[u8], at: usize, len: usize) -> io::Result<String> {
    let field = data
        .get(at..at + len)
        .ok_or_else(|| io::Error::other("short ethtool reply"))?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(len);
    Ok(String::from_utf8_lossy(&field[..end]).into_owned())
}

pub(crate) fn parse_driver_info(data: &[u8]) -> io::Result<DriverInfo> {
    Ok(DriverInfo {
        driver: c_string(data, 4, 32)?,
        version: c_string(data, 36, 32)?,
        firmware_version: c_string(data, 68, 32)?,
        bus_info: c_string(data, 100, 32)?,
        expansion_rom_version: c_string(data, 132, 32)?,
        n_stats: u32_at(data, 180)?,
    })
}

pub(crate) fn parse_link_settings(data: &[u8]) -> io::Result<LinkSettings> {
    Ok(LinkSettings {
        supported: u32_at(data, 4)?,
        advertising: u32_at(data, 8)?,
        autoneg: *data
            .get(18)
            .ok_or_else(|| io::Error::other("short ethtool reply"))?,
    })
}

/// Pairs the names of an `ethtool_gstrings` reply with the values of an `ethtool_stats` reply;
/// each reply carries the count the kernel filled in, and only entries both hold are used.
pub(crate) fn parse_stats(strings: &[u8], values: &[u8]) -> io::Result<Vec<(String, u64)>> {
    let names = u32_at(strings, 8)? as usize;
    let count = names.min(u32_at(values, 4)? as usize).min(MAX_STATS);
    let mut stats = Vec::with_capacity(count);
    for i in 0..count {
        let name = c_string(strings, 12 + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN)?;
        let value = values
            .get(8 + i * 8..16 + i * 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes)
            .ok_or_else(|| io::Error::other("short ethtool statistics"))?;
        if !name.is_empty() {
            stats.push((name, value));
        }
    }
    Ok(stats)
}

/// `struct ifreq` as `SIOCETHTOOL` reads it: the device name and a pointer to the command.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: *mut u64,
    /// The rest of the `ifr_ifru` union (24 bytes on 64-bit targets), which the kernel copies in.
    _rest: [u8; 16],
}

#[allow(unsafe_code)]
mod raw {
    // The generated function is `unsafe` to call: it passes a raw pointer to the kernel.
    nix::ioctl_readwrite_bad!(siocethtool, libc::SIOCETHTOOL, crate::ethtool_ioctl::IfReq);
}

/// One `SIOCETHTOOL` call on `device` with the command in `buffer`.
#[allow(unsafe_code)]
fn call(fd: &OwnedFd, device: &str, buffer: &mut [u64]) -> io::Result<()> {
    let mut name = [0u8; IFNAMSIZ];
    if device.len() >= IFNAMSIZ || device.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    name[..device.len()].copy_from_slice(device.as_bytes());
    // Every command we send has its reply size fixed by the kernel's own structs
    // (GDRVINFO, GSET) or by the driver's statistics count, at most MAX_STATS (the buffers of
    // `stats` hold MAX_STATS entries): refuse a buffer too small for the largest fixed reply.
    if buffer.len() * 8 < DRVINFO_LEN {
        return Err(io::Error::other("ethtool command buffer too small"));
    }
    let mut request = IfReq {
        name,
        data: buffer.as_mut_ptr(),
        _rest: [0; 16],
    };
    // SAFETY: `request` is a valid, NUL-terminated ifreq whose data pointer points at `buffer`,
    // which is live and exclusively borrowed for the call. The kernel writes into it at most
    // the reply of the command in its first word: ethtool_drvinfo (196 bytes) or ethtool_cmd
    // (44 bytes), both within the checked minimum, or for GSTRINGS/GSTATS the driver's current
    // statistics count times 32 or 8 bytes; `stats` sizes those buffers for MAX_STATS entries
    // and refuses devices reporting more, so only a driver growing past 32768 statistics
    // between two calls could exceed them.
    unsafe { raw::siocethtool(fd.as_raw_fd(), &mut request) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(data: &mut Vec<u8>, at: usize, value: &[u8]) {
        if data.len() < at + value.len() {
            data.resize(at + value.len(), 0);
        }
        data[at..at + value.len()].copy_from_slice(value);
    }

    #[test]
    fn parses_kernel_structs() {
        let mut drvinfo = vec![0u8; DRVINFO_LEN];
        put(&mut drvinfo, 4, b"e1000e");
        put(&mut drvinfo, 36, b"5.11.0-22-generic");
        put(&mut drvinfo, 68, b"0.5-4");
        put(&mut drvinfo, 100, b"0000:00:1f.6");
        put(&mut drvinfo, 180, &3u32.to_ne_bytes());
        let info = parse_driver_info(&drvinfo).unwrap();
        assert_eq!(info.driver, "e1000e");
        assert_eq!(info.bus_info, "0000:00:1f.6");
        assert_eq!(info.expansion_rom_version, "");
        assert_eq!(info.n_stats, 3);

        let mut cmd = vec![0u8; CMD_LEN];
        put(&mut cmd, 4, &0x22efu32.to_ne_bytes());
        put(&mut cmd, 8, &0x202fu32.to_ne_bytes());
        cmd[18] = 1;
        assert_eq!(
            parse_link_settings(&cmd).unwrap(),
            LinkSettings {
                supported: 0x22ef,
                advertising: 0x202f,
                autoneg: 1
            }
        );

        let mut strings = vec![0u8; 12 + 3 * 32];
        put(&mut strings, 8, &3u32.to_ne_bytes());
        put(&mut strings, 12, b"rx_packets");
        put(&mut strings, 76, b"tx_packets");
        let mut values = vec![0u8; 8 + 3 * 8];
        put(&mut values, 4, &3u32.to_ne_bytes());
        put(&mut values, 8, &7u64.to_ne_bytes());
        put(&mut values, 16, &8u64.to_ne_bytes());
        put(&mut values, 24, &9u64.to_ne_bytes());
        // The unnamed middle entry is dropped.
        assert_eq!(
            parse_stats(&strings, &values).unwrap(),
            vec![("rx_packets".to_owned(), 7), ("tx_packets".to_owned(), 9)]
        );
        assert!(parse_stats(&strings, &values[..20]).is_err());
        assert!(parse_driver_info(&drvinfo[..100]).is_err());
    }

    #[test]
    fn live_loopback_and_bad_names() {
        let ethtool = Ethtool::open().unwrap();
        // The loopback has no driver information and no link settings.
        let err = ethtool.driver_info("lo").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}");
        let err = ethtool.driver_info("octo-no-such").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
        assert!(ethtool.driver_info("a-name-far-too-long").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_replies_never_panic(
            a in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let _ = parse_driver_info(&a);
            let _ = parse_link_settings(&a);
            let _ = parse_stats(&a, &b);
        }
    }
}
