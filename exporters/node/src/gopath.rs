//! Go's path rules, as node_exporter's textfile and rapl collectors see them: `filepath.Clean`,
//! `filepath.Match` and `filepath.Glob`.

/// Go's `filepath.Clean` (Unix): the shortest equivalent path, lexically.
pub(crate) fn go_clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join(dir, name)`.
pub(crate) fn go_join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean_path(name),
        (false, true) => go_clean_path(dir),
        (false, false) => go_clean_path(&format!("{dir}/{name}")),
    }
}

/// `filepath.ErrBadPattern`.
#[derive(Debug, PartialEq)]
pub(crate) struct BadPattern;

/// Go's `scanChunk`: leading stars, then everything up to the next star outside `[...]`.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut rest = pattern;
    let mut star = false;
    while let [b'*', tail @ ..] = rest {
        rest = tail;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' if i + 1 < rest.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &rest[..i], &rest[i..])
}

fn decode_char(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes.first()? {
        b if *b < 0x80 => 1,
        b if *b >= 0xf0 => 4,
        b if *b >= 0xe0 => 3,
        _ => 2,
    };
    let text = std::str::from_utf8(bytes.get(..len)?).ok()?;
    text.chars().next().map(|c| (c, len))
}

/// Go's `getEsc`: one (possibly escaped) character of a character class.
fn get_escaped(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        _ => {}
    }
    let (c, len) = decode_char(chunk).ok_or(BadPattern)?;
    let rest = &chunk[len..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

/// Go's `matchChunk`: matches `chunk` against a prefix of `name`, returning the rest.
fn match_chunk<'a>(chunk: &[u8], name: &'a [u8]) -> Result<Option<&'a [u8]>, BadPattern> {
    let mut chunk = chunk;
    let mut s = name;
    let mut failed = false;
    while let Some(&first) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match first {
            b'[' => {
                let mut current = None;
                if !failed {
                    match decode_char(s) {
                        Some((c, len)) => {
                            current = Some(c);
                            s = &s[len..];
                        }
                        None => {
                            current = Some('\u{FFFD}');
                            s = &s[1..];
                        }
                    }
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_escaped(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (high, rest) = get_escaped(&chunk[1..])?;
                        hi = high;
                        chunk = rest;
                    }
                    if current.is_some_and(|c| lo <= c && c <= hi) {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let len = decode_char(s).map_or(1, |(_, len)| len);
                    s = &s[len..];
                }
                chunk = &chunk[1..];
            }
            other => {
                let literal = if other == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    other
                };
                if !failed {
                    if literal != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// Go's `filepath.Match`.
pub(crate) fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let attempt = match_chunk(chunk, name);
        if let Ok(Some(t)) = attempt
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        attempt?;
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                match match_chunk(chunk, &name[i + 1..])? {
                    Some(t) if pattern.is_empty() && !t.is_empty() => {}
                    Some(t) => {
                        name = t;
                        continue 'pattern;
                    }
                    None => {}
                }
                i += 1;
            }
        }
        // Report a malformed remainder even though this name does not match.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Go's `filepath.Glob`: matches sorted per directory, I/O errors ignored.
pub(crate) fn go_glob(pattern: &str) -> Result<Vec<String>, BadPattern> {
    go_match(pattern, "")?;
    if !has_meta(pattern) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    let split = pattern.rfind('/').map_or(0, |i| i + 1);
    let (dir, file) = pattern.split_at(split);
    let dir = match dir {
        "" => ".",
        "/" => "/",
        other => &other[..other.len() - 1],
    };
    if !has_meta(dir) {
        return glob_in(dir, file);
    }
    if dir == pattern {
        return Err(BadPattern);
    }
    let mut out = Vec::new();
    for parent in go_glob(dir)? {
        out.extend(glob_in(&parent, file)?);
    }
    Ok(out)
}

fn glob_in(dir: &str, pattern: &str) -> Result<Vec<String>, BadPattern> {
    if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(Vec::new());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if go_match(pattern, &name)? {
            out.push(go_join(dir, &name));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths_and_globs() {
        assert_eq!(go_clean_path("a//b/./c/.."), "a/b");
        assert_eq!(go_clean_path("/../x/"), "/x");
        assert_eq!(go_clean_path("../../x"), "../../x");
        assert_eq!(go_clean_path(""), ".");
        assert_eq!(go_clean_path("a/.."), ".");
        assert_eq!(go_join("dir/", "f.prom"), "dir/f.prom");
        assert_eq!(go_match("*.prom", "a.prom"), Ok(true));
        assert_eq!(go_match("*.prom", "a.prom.tmp"), Ok(false));
        assert_eq!(go_match("a?c", "abc"), Ok(true));
        assert_eq!(go_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(go_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(go_match("\\*", "*"), Ok(true));
        assert_eq!(
            go_match("*_extra_dimension", "histogram_extra_dimension"),
            Ok(true)
        );
        assert_eq!(go_match("*", "a/b"), Ok(false));
        assert_eq!(go_match("[", "a"), Err(BadPattern));
        assert_eq!(go_match("a[", "x"), Err(BadPattern));
        assert_eq!(go_match("[]a]", "a"), Err(BadPattern));
        let dir = tempfile::tempdir().unwrap();
        for sub in ["one", "two", "other"] {
            std::fs::create_dir_all(dir.path().join("t").join(sub)).unwrap();
        }
        let root = dir.path().to_string_lossy().into_owned();
        let found = go_glob(&format!("{root}/t/*o")).unwrap();
        assert_eq!(found, vec![format!("{root}/t/two")]);
        let found = go_glob(&format!("{root}/*/o*")).unwrap();
        assert_eq!(
            found,
            vec![format!("{root}/t/one"), format!("{root}/t/other")]
        );
        assert!(go_glob(&format!("{root}/missing/*")).unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn glob_match_never_panics(pattern in "[a-z*?\\[\\]^\\\\-]{0,12}", name in "[a-z/]{0,12}") {
            let _ = go_match(&pattern, &name);
        }
    }
}
