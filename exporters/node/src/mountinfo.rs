//! Lines of `/proc/<pid>/mountinfo`, as upstream's procfs library splits them. Hand-written:
//! procfs-core's `MountInfos` turns the source `none` into "no source" (upstream labels it
//! `device="none"`) and rejects a whole file for one odd line, where each collector wants its
//! own policy for odd lines.

/// One mountinfo line's fields that collectors read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfoLine<'a> {
    pub major: i64,
    pub minor: i64,
    /// Unescaped (the fstab(5) escapes for space and tab, the two upstream translates).
    pub mount_point: String,
    pub mount_options: &'a str,
    pub fs_type: &'a str,
    pub source: &'a str,
    pub super_options: &'a str,
}

/// `None` for a malformed line: fewer than ten fields split on single spaces, no `-` separator
/// as the fourth field from the end, or ids and `major:minor` that are not numbers.
pub fn parse_line(line: &str) -> Option<MountInfoLine<'_>> {
    let fields: Vec<&str> = line.split(' ').collect();
    let n = fields.len();
    if n < 10 || fields[n - 4] != "-" {
        return None;
    }
    fields[0].parse::<i64>().ok()?;
    fields[1].parse::<i64>().ok()?;
    let (major, minor) = fields[2].split_once(':')?;
    Some(MountInfoLine {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point: fields[4].replace("\\040", " ").replace("\\011", "\t"),
        mount_options: fields[5],
        fs_type: fields[n - 3],
        source: fields[n - 2],
        super_options: fields[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_line_and_refuses_malformed_ones() {
        let line = parse_line(
            "35 22 0:40 / /srv/my\\040data rw,relatime shared:20 - btrfs /dev/sdb rw,ro",
        )
        .unwrap();
        assert_eq!((line.major, line.minor), (0, 40));
        assert_eq!(line.mount_point, "/srv/my data");
        assert_eq!(
            (
                line.mount_options,
                line.fs_type,
                line.source,
                line.super_options
            ),
            ("rw,relatime", "btrfs", "/dev/sdb", "rw,ro")
        );
        assert_eq!(parse_line("22 1 8:1 / / rw - ext4"), None);
        assert_eq!(
            parse_line("22 1 x:1 / / rw shared:1 - btrfs /dev/sdb rw"),
            None
        );
        assert_eq!(
            parse_line("a 1 8:1 / / rw shared:1 - ext4 /dev/sda rw"),
            None
        );
    }
}
