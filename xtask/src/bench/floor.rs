//! The floor under an exporter's CPU per scrape: what reading the same files costs with no
//! parsing, no encoding and no HTTP. The files are those the running exporter opens during one
//! scrape (traced with `strace`); the floor then opens each, reads it to its end and closes
//! it (a directory: lists it; a `statfs` target: calls `statfs`), once per round, and reports
//! this process's CPU per round. Netlink dumps are not replayed (they are few and cheap).

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::process::CpuTime;
use super::scrape::{SCRAPE_CLIENT_TIMEOUT, client, scrape};

/// What one scrape of an exporter touched.
#[derive(Debug, Default)]
pub struct Reads {
    files: BTreeSet<PathBuf>,
    directories: BTreeSet<PathBuf>,
    statfs: BTreeSet<PathBuf>,
}

impl Reads {
    pub fn summary(&self) -> String {
        format!(
            "{} files, {} directories, {} statfs",
            self.files.len(),
            self.directories.len(),
            self.statfs.len()
        )
    }
}

/// Traces every thread of `pid` during one scrape of `url` and returns what it opened.
pub async fn trace_one_scrape(pid: u32, url: &str) -> anyhow::Result<Reads> {
    let log = std::env::temp_dir().join(format!("octo-bench-floor-{pid}.strace"));
    let mut command = Command::new("strace");
    command.args(["-f", "-qq", "-e", "trace=openat,open,statfs", "-o"]);
    command.arg(&log);
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        command.arg("-p").arg(task?.file_name());
    }
    let mut strace = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("running strace (apt-get install strace)")?;
    // strace attaches asynchronously; give it time before the traced scrape.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = client(SCRAPE_CLIENT_TIMEOUT)?;
    scrape(&client, url, true).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(strace.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )?;
    strace.wait()?;
    let text = std::fs::read_to_string(&log).context("reading the strace log")?;
    let _ = std::fs::remove_file(&log);
    let reads = parse_strace(&text);
    if reads.files.is_empty() {
        bail!("strace saw no file opened during a scrape");
    }
    Ok(reads)
}

/// `openat(AT_FDCWD, "/proc/stat", O_RDONLY|O_CLOEXEC) = 13`, `openat(13, "mtu", ...) = 14`
/// (relative to a directory opened before), `statfs("/", {...}) = 0`; failed calls are left
/// out. Sockets, the exporter's own `/proc/self` and its textfile reads count like any file.
fn parse_strace(text: &str) -> Reads {
    let mut reads = Reads::default();
    let mut fds: HashMap<String, PathBuf> = HashMap::new();
    for line in text.lines() {
        let Some(call_at) = line.find(|c: char| c.is_ascii_alphabetic()) else {
            continue;
        };
        let call = &line[call_at..];
        let Some((_, result)) = call.rsplit_once(" = ") else {
            continue;
        };
        let result = result.split_whitespace().next().unwrap_or("-1");
        if result.starts_with('-') {
            continue;
        }
        let quoted = |s: &str| -> Option<String> {
            let start = s.find('"')? + 1;
            let end = start + s[start..].find('"')?;
            Some(s[start..end].to_owned())
        };
        if let Some(args) = call.strip_prefix("statfs(") {
            if let Some(path) = quoted(args) {
                reads.statfs.insert(PathBuf::from(path));
            }
            continue;
        }
        let Some(args) = call
            .strip_prefix("openat(")
            .or_else(|| call.strip_prefix("open("))
        else {
            continue;
        };
        let Some(name) = quoted(args) else { continue };
        let base = args.split(',').next().unwrap_or("").trim();
        let path = if name.starts_with('/') {
            PathBuf::from(&name)
        } else if let Some(dir) = fds.get(base) {
            dir.join(&name)
        } else {
            continue;
        };
        fds.insert(result.to_owned(), path.clone());
        if args.contains("O_PATH") {
            continue; // a handle for relative opens, not a read
        }
        if args.contains("O_DIRECTORY") {
            reads.directories.insert(path);
        } else {
            reads.files.insert(path);
        }
    }
    reads
}

/// One round: every file read to its end, every directory listed, every statfs called.
fn read_once(reads: &Reads, buffer: &mut Vec<u8>) {
    for path in &reads.files {
        if let Ok(mut file) = std::fs::File::open(path) {
            buffer.clear();
            let mut chunk = [0u8; 4096];
            while let Ok(read) = file.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
        }
    }
    for path in &reads.directories {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                std::hint::black_box(entry.file_name());
            }
        }
    }
    for path in &reads.statfs {
        let _ = std::hint::black_box(nix::sys::statfs::statfs(path.as_path()));
    }
}

/// CPU milliseconds per round of reading `reads`, over `rounds` rounds.
pub fn measure(reads: &Reads, rounds: usize) -> anyhow::Result<f64> {
    let mut buffer = Vec::with_capacity(64 * 1024);
    for _ in 0..rounds.min(20) {
        read_once(reads, &mut buffer);
    }
    let me = std::process::id();
    let before = CpuTime::of(me)?;
    for _ in 0..rounds {
        read_once(reads, &mut buffer);
    }
    let after = CpuTime::of(me)?;
    Ok((after.seconds() - before.seconds()) * 1000.0 / rounds as f64)
}

/// Prints the floor of both exporters' reads beside their measured CPU per scrape.
pub async fn report(sides: [(&str, u32, String, f64); 2], rounds: usize) -> anyhow::Result<()> {
    println!();
    println!("floor: the same files read once per scrape, no parsing ({rounds} rounds)");
    for (name, pid, url, cpu_ms) in sides {
        let reads = trace_one_scrape(pid, &url).await?;
        let floor = measure(&reads, rounds)?;
        println!(
            "{name:<32} floor {floor:.3} ms ({}), CPU per scrape {cpu_ms:.3} ms = {:.1}x floor",
            reads.summary(),
            cpu_ms / floor
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn reads_opens_relative_opens_and_statfs() {
        let text = r#"12 openat(AT_FDCWD, "/proc/stat", O_RDONLY|O_CLOEXEC) = 13
12 openat(AT_FDCWD, "/sys/class/net/lo", O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY) = 13
12 openat(13, "mtu", O_RDONLY|O_CLOEXEC) = 14
12 openat(AT_FDCWD, "/sys/class/hwmon", O_RDONLY|O_DIRECTORY) = -1 ENOENT (No such file)
12 openat(AT_FDCWD, "/sys/class/net", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 15
12 statfs("/", {f_type=EXT2_SUPER_MAGIC}) = 0
"#;
        let reads = parse_strace(text);
        assert!(reads.files.contains(Path::new("/proc/stat")));
        assert!(reads.files.contains(Path::new("/sys/class/net/lo/mtu")));
        assert_eq!(reads.files.len(), 2);
        assert_eq!(reads.directories.len(), 1);
        assert!(reads.statfs.contains(Path::new("/")));
    }
}
