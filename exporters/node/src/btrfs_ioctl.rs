//! The three btrfs ioctls upstream's btrfs collector asks a mounted filesystem
//! (`BTRFS_IOC_FS_INFO`, `BTRFS_IOC_DEV_INFO`, `BTRFS_IOC_GET_DEV_STATS`), and the decoding of
//! their argument structures (include/uapi/linux/btrfs.h).
//!
//! The workspace denies `unsafe_code`; the ioctl calls are the only unsafe code here, each in a
//! function of its own that passes a zeroed byte buffer of exactly the structure's size (the
//! size is part of the request number, so the kernel never reads or writes past it). Everything
//! else, building the input fields and decoding the output, is safe code on those buffers.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// `struct btrfs_ioctl_fs_info_args`: padded to 1 KiB.
const FS_INFO_SIZE: usize = 1024;
/// `struct btrfs_ioctl_dev_info_args`: padded to 4 KiB, the path in its last 1 KiB.
const DEV_INFO_SIZE: usize = 4096;
const DEV_INFO_PATH_OFFSET: usize = 4096 - 1024;
/// `struct btrfs_ioctl_get_dev_stats`: meant to be 1 KiB, 1032 bytes since `flags` was added.
const DEV_STATS_SIZE: usize = 1032;
/// `BTRFS_DEV_STAT_VALUES_MAX`: write, read, flush, corruption, generation errors.
pub const DEV_STAT_VALUES: usize = 5;
/// The object id of a subvolume's root directory (`BTRFS_FIRST_FREE_OBJECTID`).
const SUBVOLUME_ROOT_INODE: u64 = 256;

#[allow(unsafe_code)]
mod raw {
    // The macros expand to `unsafe fn`s taking a raw pointer to a buffer of the given type,
    // whose size they encode in the request number as the kernel's _IOR/_IOWR do. The sizes
    // are the *_SIZE constants above: the callers' buffer types would not match otherwise.
    nix::ioctl_read!(fs_info, 0x94, 31, [u8; 1024]);
    nix::ioctl_readwrite!(dev_info, 0x94, 30, [u8; 4096]);
    nix::ioctl_readwrite!(get_dev_stats, 0x94, 52, [u8; 1032]);
}

/// What `BTRFS_IOC_FS_INFO` tells of a filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    pub max_id: u64,
    pub num_devices: u64,
    pub fsid: [u8; 16],
}

impl FsInfo {
    /// The fsid as lower-case hex without dashes (how upstream keys filesystems).
    pub fn fsid_hex(&self) -> String {
        self.fsid.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What `BTRFS_IOC_DEV_INFO` tells of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevInfo {
    pub uuid: [u8; 16],
    pub bytes_used: u64,
    pub total_bytes: u64,
    /// The device path, up to the first NUL.
    pub path: Vec<u8>,
}

impl DevInfo {
    /// The device UUID as upstream's btrfs library prints it: dashed lower-case hex, or
    /// `<zero>` for the all-zero UUID.
    pub fn uuid_text(&self) -> String {
        if self.uuid == [0; 16] {
            return "<zero>".to_owned();
        }
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let u = &self.uuid;
        format!(
            "{}-{}-{}-{}-{}",
            hex(&u[..4]),
            hex(&u[4..6]),
            hex(&u[6..8]),
            hex(&u[8..10]),
            hex(&u[10..])
        )
    }
}

fn u64_at(buffer: &[u8], offset: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buffer[offset..offset + 8]);
    u64::from_ne_bytes(bytes)
}

fn uuid_at(buffer: &[u8], offset: usize) -> [u8; 16] {
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&buffer[offset..offset + 16]);
    uuid
}

fn decode_fs_info(buffer: &[u8; FS_INFO_SIZE]) -> FsInfo {
    FsInfo {
        max_id: u64_at(buffer, 0),
        num_devices: u64_at(buffer, 8),
        fsid: uuid_at(buffer, 16),
    }
}

fn encode_dev_info(devid: u64) -> Box<[u8; DEV_INFO_SIZE]> {
    let mut buffer = Box::new([0u8; DEV_INFO_SIZE]);
    // A zero uuid asks for the device by id alone.
    buffer[..8].copy_from_slice(&devid.to_ne_bytes());
    buffer
}

fn decode_dev_info(buffer: &[u8; DEV_INFO_SIZE]) -> DevInfo {
    let path = &buffer[DEV_INFO_PATH_OFFSET..];
    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
    DevInfo {
        uuid: uuid_at(buffer, 8),
        bytes_used: u64_at(buffer, 24),
        total_bytes: u64_at(buffer, 32),
        path: path[..end].to_vec(),
    }
}

fn encode_dev_stats(devid: u64) -> Box<[u8; DEV_STATS_SIZE]> {
    let mut buffer = Box::new([0u8; DEV_STATS_SIZE]);
    buffer[..8].copy_from_slice(&devid.to_ne_bytes());
    buffer[8..16].copy_from_slice(&(DEV_STAT_VALUES as u64).to_ne_bytes());
    // flags (offset 16) stay 0: read, do not reset.
    buffer
}

/// The five counters, in the kernel's order; those the kernel did not fill (`nr_items` below 5
/// on an old kernel) stay 0.
fn decode_dev_stats(buffer: &[u8; DEV_STATS_SIZE]) -> [u64; DEV_STAT_VALUES] {
    let filled = usize::try_from(u64_at(buffer, 8)).unwrap_or(usize::MAX);
    std::array::from_fn(|i| {
        if i < filled {
            u64_at(buffer, 24 + 8 * i)
        } else {
            0
        }
    })
}

/// A mounted btrfs subvolume root, opened read-only for the ioctls.
pub struct Filesystem {
    dir: File,
}

impl Filesystem {
    /// Opens a mount point as upstream's library does: it must be the root directory of a
    /// subvolume of a btrfs filesystem; `O_NOATIME` when allowed.
    pub fn open(mount_point: &Path) -> std::io::Result<Filesystem> {
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME)
            .open(mount_point)
            .or_else(|_| File::open(mount_point))?;
        let stat = nix::sys::stat::fstat(&dir)?;
        let is_dir = stat.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let statfs = nix::sys::statfs::fstatfs(&dir)?;
        if !is_dir
            || stat.st_ino != SUBVOLUME_ROOT_INODE
            || statfs.filesystem_type() != nix::sys::statfs::BTRFS_SUPER_MAGIC
        {
            return Err(std::io::Error::other(format!(
                "{} is not a btrfs subvolume root",
                mount_point.display()
            )));
        }
        Ok(Filesystem { dir })
    }

    pub fn info(&self) -> std::io::Result<FsInfo> {
        let mut buffer = Box::new([0u8; FS_INFO_SIZE]);
        call_fs_info(&self.dir, &mut buffer)?;
        Ok(decode_fs_info(&buffer))
    }

    /// One device by id; `ENODEV` for an id no device has (ids have gaps).
    pub fn dev_info(&self, devid: u64) -> std::io::Result<DevInfo> {
        let mut buffer = encode_dev_info(devid);
        call_dev_info(&self.dir, &mut buffer)?;
        Ok(decode_dev_info(&buffer))
    }

    /// The error counters of one device: write, read, flush, corruption, generation.
    pub fn dev_stats(&self, devid: u64) -> std::io::Result<[u64; DEV_STAT_VALUES]> {
        let mut buffer = encode_dev_stats(devid);
        call_get_dev_stats(&self.dir, &mut buffer)?;
        Ok(decode_dev_stats(&buffer))
    }
}

#[allow(unsafe_code)]
fn call_fs_info(dir: &File, buffer: &mut [u8; FS_INFO_SIZE]) -> std::io::Result<()> {
    // SAFETY: `dir` is an open descriptor for the call's duration, and `buffer` is a live,
    // exclusively borrowed buffer of exactly the size the request number encodes, so the kernel
    // writes only inside it.
    unsafe { raw::fs_info(dir.as_raw_fd(), buffer) }?;
    Ok(())
}

#[allow(unsafe_code)]
fn call_dev_info(dir: &File, buffer: &mut [u8; DEV_INFO_SIZE]) -> std::io::Result<()> {
    // SAFETY: as in `call_fs_info`: an open descriptor and a buffer of exactly the encoded
    // size, which the kernel reads (devid, uuid) and writes back.
    unsafe { raw::dev_info(dir.as_raw_fd(), buffer) }?;
    Ok(())
}

#[allow(unsafe_code)]
fn call_get_dev_stats(dir: &File, buffer: &mut [u8; DEV_STATS_SIZE]) -> std::io::Result<()> {
    // SAFETY: as in `call_fs_info`: an open descriptor and a buffer of exactly the encoded
    // size, which the kernel reads (devid, nr_items, flags 0) and writes back.
    unsafe { raw::get_dev_stats(dir.as_raw_fd(), buffer) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_sizes_match_the_uapi_header() {
        // fs_info: 2 u64, fsid, 3 u32, 2 u16, 2 u64, metadata_uuid, 944 reserved.
        assert_eq!(8 + 8 + 16 + 4 * 3 + 2 * 2 + 8 * 2 + 16 + 944, FS_INFO_SIZE);
        // dev_info: devid, uuid, 2 u64, fsid, 377 u64 unused, 1024 path.
        assert_eq!(8 + 16 + 8 + 8 + 16 + 377 * 8 + 1024, DEV_INFO_SIZE);
        // get_dev_stats: devid, nr_items, flags, 5 values, 128 - 2 - 5 unused.
        assert_eq!(8 * 3 + 8 * 5 + 8 * (128 - 2 - 5), DEV_STATS_SIZE);
    }

    #[test]
    fn decodes_fs_info() {
        let mut buffer = [0u8; FS_INFO_SIZE];
        buffer[..8].copy_from_slice(&3u64.to_ne_bytes());
        buffer[8..16].copy_from_slice(&2u64.to_ne_bytes());
        let fsid = [
            0xde, 0x10, 0xc6, 0x1d, 0xdc, 0x90, 0x42, 0xaa, 0xb2, 0x11, 0xb3, 0xf0, 0x33, 0xbf,
            0x0b, 0x41,
        ];
        buffer[16..32].copy_from_slice(&fsid);
        buffer[32..36].copy_from_slice(&16384u32.to_ne_bytes());
        let info = decode_fs_info(&buffer);
        assert_eq!(info.max_id, 3);
        assert_eq!(info.num_devices, 2);
        assert_eq!(info.fsid_hex(), "de10c61ddc9042aab211b3f033bf0b41");
    }

    #[test]
    fn decodes_dev_info() {
        let mut buffer = encode_dev_info(7);
        assert_eq!(u64_at(&buffer[..], 0), 7);
        assert_eq!(buffer[8..24], [0; 16]);
        let uuid: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        buffer[8..24].copy_from_slice(&uuid);
        buffer[24..32].copy_from_slice(&1000u64.to_ne_bytes());
        buffer[32..40].copy_from_slice(&5000u64.to_ne_bytes());
        buffer[DEV_INFO_PATH_OFFSET..DEV_INFO_PATH_OFFSET + 10].copy_from_slice(b"/dev/loop0");
        let info = decode_dev_info(&buffer);
        assert_eq!(info.bytes_used, 1000);
        assert_eq!(info.total_bytes, 5000);
        assert_eq!(info.path, b"/dev/loop0");
        assert_eq!(info.uuid_text(), "00112233-4455-6677-8899-aabbccddeeff");
        // A path filling the whole field has no NUL: all of it.
        buffer[DEV_INFO_PATH_OFFSET..].fill(b'x');
        assert_eq!(decode_dev_info(&buffer).path.len(), 1024);
        buffer[8..24].fill(0);
        assert_eq!(decode_dev_info(&buffer).uuid_text(), "<zero>");
    }

    #[test]
    fn decodes_dev_stats() {
        let mut buffer = encode_dev_stats(1);
        assert_eq!(u64_at(&buffer[..], 0), 1);
        assert_eq!(u64_at(&buffer[..], 8), 5);
        assert_eq!(u64_at(&buffer[..], 16), 0, "never reset the counters");
        for (i, value) in [1u64, 2, 3, 4, 5, 6].iter().enumerate() {
            buffer[24 + 8 * i..32 + 8 * i].copy_from_slice(&value.to_ne_bytes());
        }
        assert_eq!(decode_dev_stats(&buffer), [1, 2, 3, 4, 5]);
        // An old kernel that knows fewer counters says so in nr_items.
        buffer[8..16].copy_from_slice(&3u64.to_ne_bytes());
        assert_eq!(decode_dev_stats(&buffer), [1, 2, 3, 0, 0]);
    }

    #[test]
    fn only_a_btrfs_subvolume_root_opens() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Filesystem::open(dir.path()).is_err());
        assert!(Filesystem::open(&dir.path().join("missing")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panic(fill in proptest::num::u8::ANY, at in 0usize..DEV_STATS_SIZE) {
            let mut stats = [fill; DEV_STATS_SIZE];
            stats[at] = fill.wrapping_add(1);
            let _ = decode_dev_stats(&stats);
            let mut info = [fill; DEV_INFO_SIZE];
            info[at] = 0;
            let _ = decode_dev_info(&info).uuid_text();
            let _ = decode_fs_info(&[fill; FS_INFO_SIZE]).fsid_hex();
        }
    }
}
