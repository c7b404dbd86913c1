//! The shape of the code base, checked: no import circle between the files of any crate, and
//! no source file longer than 800 lines before its tests.
//!
//! An import is any path that starts at `crate::`, `super::` or `self::` (in a `use` or in
//! code), or at a child module the file declares; it points at the file of the longest module
//! prefix it names. Test modules (`#[cfg(test)] mod tests { .. }`) are left out: tests may
//! reach into what they test. Module declarations (`mod x;`) are not imports.

// Test code: a failed unwrap is a failed test, and its message says where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines a source file may have before its tests.
const MAX_LINES: usize = 800;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The `src/` directories of the workspace's members, from the root `Cargo.toml`.
fn member_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let start = manifest.find("members = [").expect("a members list");
    let end = start + manifest[start..].find(']').unwrap();
    manifest[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|member| root.join(member).join("src"))
        .collect()
}

/// The text with comments, string and character literals blanked out (newlines kept).
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, from: &[u8]| {
        for &b in from {
            out.push(if b == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut len) = (0usize, 0usize);
            while len < rest.len() {
                if rest[len..].starts_with(b"/*") {
                    depth += 1;
                    len += 2;
                } else if rest[len..].starts_with(b"*/") {
                    depth -= 1;
                    len += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    len += 1;
                }
            }
            blank(&mut out, &rest[..len]);
            i += len;
        } else if let Some(len) = raw_string_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' {
            let mut len = 1;
            while len < rest.len() && rest[len] != b'"' {
                len += if rest[len] == b'\\' { 2 } else { 1 };
            }
            let len = (len + 1).min(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'\'' && char_literal_len(rest).is_some() {
            let len = char_literal_len(rest).unwrap();
            blank(&mut out, &rest[..len]);
            i += len;
        } else {
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    out
}

/// `r"..."`, `r#"..."#`, `br"..."` at the start of `rest`.
fn raw_string_len(rest: &[u8]) -> Option<usize> {
    let after_prefix = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = rest[after_prefix..]
        .iter()
        .take_while(|&&b| b == b'#')
        .count();
    if rest.get(after_prefix + hashes) != Some(&b'"') {
        return None;
    }
    let body = after_prefix + hashes + 1;
    let mut closing = vec![b'"'];
    closing.extend(std::iter::repeat_n(b'#', hashes));
    let end = rest[body..]
        .windows(closing.len())
        .position(|w| w == closing.as_slice())?;
    Some(body + end + closing.len())
}

/// `'x'`, `'\n'`, `'\u{..}'` (not a lifetime `'a`).
fn char_literal_len(rest: &[u8]) -> Option<usize> {
    if rest.get(1) == Some(&b'\\') {
        let close = rest[2..].iter().position(|&b| b == b'\'')?;
        return (close <= 10).then_some(close + 3);
    }
    let text = std::str::from_utf8(&rest[1..rest.len().min(6)])
        .ok()
        .or_else(|| {
            // A multi-byte character cut in the middle: look at the valid prefix.
            std::str::from_utf8(&rest[1..rest.len().min(5)]).ok()
        })?;
    let c = text.chars().next()?;
    (rest.get(1 + c.len_utf8()) == Some(&b'\'')).then_some(2 + c.len_utf8())
}

/// The code before the first test module block.
fn without_test_modules(code: &str) -> &str {
    let lines: Vec<&str> = code.lines().collect();
    let mut offset = 0;
    for (index, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]" {
            let next = lines[index + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("#["));
            if next.is_some_and(|l| l.contains("mod ") && l.ends_with('{')) {
                return &code[..offset];
            }
        }
        offset += line.len() + 1;
    }
    code
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(i, n)) = chars.peek() {
                if n.is_alphanumeric() || n == '_' {
                    end = i + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token::Ident(code[start..end].to_owned()));
        } else if c == ':' && chars.peek().map(|&(_, n)| n) == Some(':') {
            chars.next();
            out.push(Token::PathSep);
        } else if !c.is_whitespace() {
            out.push(Token::Punct(c));
        }
    }
    out
}

/// Every path a file names, from `crate`/`super`/`self` or a child module, with `use` groups
/// (`crate::a::{b, c::d}`) expanded.
fn paths_named(tokens: &[Token], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = i == 0 || tokens[i - 1] != Token::PathSep;
        if let Token::Ident(name) = &tokens[i]
            && starts_path
            && tokens.get(i + 1) == Some(&Token::PathSep)
            && (["crate", "super", "self"].contains(&name.as_str()) || children.contains(name))
        {
            i = read_path(tokens, i, Vec::new(), &mut found);
        } else {
            i += 1;
        }
    }
    found
}

/// Reads the path starting at `i` (after `prefix`), pushing every full path it names; returns
/// the index after it.
fn read_path(
    tokens: &[Token],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i) {
            Some(Token::Ident(segment)) => {
                prefix.push(segment.clone());
                i += 1;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some(Token::Punct('}')) | None => return i + 1,
                        Some(Token::Punct(',')) => i += 1,
                        Some(Token::Ident(word)) if word == "as" => i += 2,
                        _ => {
                            let next = read_path(tokens, i, prefix.clone(), found);
                            // `*` and other punctuation end a path without consuming a token.
                            i = if next == i { i + 1 } else { next };
                        }
                    }
                }
            }
            _ => {
                found.push(prefix);
                return i;
            }
        }
        if tokens.get(i) == Some(&Token::PathSep) {
            i += 1;
        } else {
            found.push(prefix);
            return i;
        }
    }
}

/// Module declarations `mod x;` (with an optional visibility and attributes) in a file's code.
fn declared_children(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_suffix(';')?;
            let after_mod = line.rsplit_once("mod ")?.1.trim();
            let before = line.rsplit_once("mod ")?.0.trim();
            let visibility_only = before.is_empty()
                || before.starts_with("pub")
                || before.ends_with(']') && before.starts_with("#[");
            (visibility_only && after_mod.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .then(|| after_mod.to_owned())
        })
        .collect()
}

/// One crate's files, by module path.
fn module_files(src: &Path, root_file: &str) -> BTreeMap<Vec<String>, PathBuf> {
    let mut files = BTreeMap::new();
    let mut pending = vec![(Vec::<String>::new(), src.join(root_file))];
    while let Some((module, file)) = pending.pop() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let code = code_only(&text);
        let is_directory_module = module.is_empty() || file.ends_with("mod.rs");
        let base = if is_directory_module {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for child in declared_children(without_test_modules(&code)) {
            let mut child_module = module.clone();
            child_module.push(child.clone());
            for candidate in [
                base.join(format!("{child}.rs")),
                base.join(&child).join("mod.rs"),
            ] {
                if candidate.exists() {
                    pending.push((child_module.clone(), candidate));
                    break;
                }
            }
        }
        files.insert(module, file);
    }
    files
}

/// Which file imports which, within one crate.
fn import_graph(src: &Path, root_file: &str) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = module_files(src, root_file);
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let code = code_only(&text);
        let code = without_test_modules(&code);
        let children = declared_children(code);
        let mut targets = BTreeSet::new();
        for path in paths_named(&tokens(code), &children) {
            let mut resolved: Vec<String> = Vec::new();
            let mut rest = path.as_slice();
            match rest.first().map(String::as_str) {
                Some("crate") => rest = &rest[1..],
                Some("self") => {
                    resolved = module.clone();
                    rest = &rest[1..];
                }
                Some("super") => {
                    resolved = module.clone();
                    while rest.first().map(String::as_str) == Some("super") {
                        resolved.pop();
                        rest = &rest[1..];
                    }
                }
                _ => resolved = module.clone(),
            }
            resolved.extend(rest.iter().cloned());
            let target = (0..=resolved.len())
                .rev()
                .find_map(|len| files.get(&resolved[..len]));
            if let Some(target) = target
                && target != file
            {
                targets.insert(target.clone());
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// Groups of files that import each other, directly or around a circle (Tarjan's algorithm).
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        circles: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(state: &mut State<'a>, file: &'a PathBuf) {
        let number = state.index.len();
        state.index.insert(file, number);
        state.low.insert(file, number);
        state.stack.push(file);
        for next in &state.graph[file] {
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[file].min(state.low[next]);
                state.low.insert(file, low);
            } else if state.stack.contains(&next) {
                let low = state.low[file].min(state.index[next]);
                state.low.insert(file, low);
            }
        }
        if state.low[file] == state.index[file] {
            let at = state.stack.iter().rposition(|f| *f == file).unwrap();
            let group: Vec<PathBuf> = state.stack.drain(at..).cloned().collect();
            if group.len() > 1 {
                state.circles.push(group);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        circles: Vec::new(),
    };
    for file in graph.keys() {
        if !state.index.contains_key(file) {
            visit(&mut state, file);
        }
    }
    state.circles
}

/// Every crate root of the workspace: the library or binary, and each `src/bin/*.rs`.
fn crate_roots() -> Vec<(PathBuf, String)> {
    let mut roots = Vec::new();
    for src in member_sources() {
        if src.join("lib.rs").exists() {
            roots.push((src.clone(), "lib.rs".to_owned()));
        }
        if src.join("main.rs").exists() {
            roots.push((src.clone(), "main.rs".to_owned()));
        }
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            for bin in bins.flatten() {
                roots.push((
                    src.clone(),
                    format!("bin/{}", bin.file_name().to_string_lossy()),
                ));
            }
        }
    }
    roots
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let root = workspace_root();
    let root = root.as_path();
    let mut report = Vec::new();
    let mut files_seen = 0;
    for (src, root_file) in crate_roots() {
        let graph = import_graph(&src, &root_file);
        files_seen += graph.len();
        for circle in circles(&graph) {
            let names: Vec<String> = circle
                .iter()
                .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
                .collect();
            let edges: Vec<String> = circle
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| circle.contains(to))
                        .map(move |to| {
                            format!(
                                "    {} -> {}",
                                from.strip_prefix(root).unwrap_or(from).display(),
                                to.strip_prefix(root).unwrap_or(to).display()
                            )
                        })
                })
                .collect();
            report.push(format!(
                "circle: {}\n{}",
                names.join(", "),
                edges.join("\n")
            ));
        }
    }
    assert!(
        files_seen > 100,
        "only {files_seen} files found: the walk is broken"
    );
    assert!(report.is_empty(), "import circles:\n{}", report.join("\n"));
}

#[test]
fn the_checker_sees_a_circle_and_a_group_import() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::{b::Thing, c};\n// crate::c::Nope in a comment\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct Thing;\nfn f() -> &'static str { \"super::c\" }\nfn g() { super::a::h(); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("c.rs"),
        "pub fn x() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::*;\n}\n",
    )
    .unwrap();
    let graph = import_graph(src, "lib.rs");
    let edges = |file: &str| -> Vec<String> {
        graph[&src.join(file)]
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(edges("a.rs"), vec!["b.rs", "c.rs"]);
    assert_eq!(edges("b.rs"), vec!["a.rs"]);
    assert!(edges("c.rs").is_empty(), "test modules are not imports");
    let found = circles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 2);
}

/// Lines before the first `#[cfg(test)]`, as the before-stop hook counts them.
fn lines_before_tests(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn no_source_file_is_over_800_lines_before_its_tests() {
    let root = workspace_root();
    let mut long = Vec::new();
    let mut pending = member_sources();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = lines_before_tests(&std::fs::read_to_string(&path).unwrap());
                if lines > MAX_LINES {
                    long.push(format!(
                        "{} ({lines} lines)",
                        path.strip_prefix(&root).unwrap_or(&path).display()
                    ));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by what they cover:\n{}",
        long.join("\n")
    );
}
