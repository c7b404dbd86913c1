//! Unpacks node_exporter's "ttar" fixture archives (`sys.ttar`, `udev.ttar`), a plain-text format:
//! records separated by `# ttar - - -` lines; `Directory: P` + `Mode: M`; `Path: P`, `Lines: N`,
//! N lines of content, `Mode: M`; `Path: P` + `SymlinkTo: T`. In content, a last line ending in
//! `EOF` means the file has no final newline (`\EOF` is a literal `EOF`), a line `NoNewline`
//! after the content says the same, and `NULLBYTE` stands for a zero byte.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

pub fn unpack(archive: &Path, into: &Path) -> Result<(), String> {
    let text = fs::read_to_string(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut lines = text.lines().peekable();
    let mut pending_path: Option<String> = None;
    while let Some(line) = lines.next() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(dir) = line.strip_prefix("Directory: ") {
            let path = into.join(dir);
            fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            pending_path = None;
        } else if let Some(path) = line.strip_prefix("Path: ") {
            pending_path = Some(path.to_owned());
        } else if let Some(target) = line.strip_prefix("SymlinkTo: ") {
            let path = into.join(pending_path.take().ok_or("SymlinkTo without Path")?);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            let _ = fs::remove_file(&path);
            std::os::unix::fs::symlink(target, &path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        } else if let Some(count) = line.strip_prefix("Lines: ") {
            let count: usize = count
                .trim()
                .parse()
                .map_err(|_| format!("bad Lines: {count}"))?;
            let path = into.join(pending_path.clone().ok_or("Lines without Path")?);
            let mut content = String::new();
            for index in 0..count {
                let line = lines.next().ok_or("archive ends inside a file")?;
                let line = line.replace("NULLBYTE", "\0");
                if index + 1 == count {
                    if let Some(literal) = line.strip_suffix("\\EOF") {
                        content.push_str(literal);
                        content.push_str("EOF\n");
                    } else if let Some(unterminated) = line.strip_suffix("EOF") {
                        content.push_str(unterminated);
                    } else {
                        content.push_str(&line);
                        content.push('\n');
                    }
                } else {
                    content.push_str(&line);
                    content.push('\n');
                }
            }
            if lines.peek() == Some(&"NoNewline") {
                lines.next();
                if content.ends_with('\n') {
                    content.pop();
                }
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
        } else if let Some(mode) = line.strip_prefix("Mode: ") {
            if let Some(path) = pending_path.take() {
                let mode =
                    u32::from_str_radix(mode.trim(), 8).map_err(|_| format!("bad Mode: {mode}"))?;
                let path = into.join(path);
                fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o200))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        } else {
            return Err(format!("unexpected ttar line {line:?}"));
        }
    }
    Ok(())
}
