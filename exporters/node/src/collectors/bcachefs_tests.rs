use super::*;
use crate::collectors::testing::{lines, write};

const IO_DONE: &str = "read:
sb          :       86016
btree       :     5242880
user        :102313054208
write:
sb          :      645120
user        :252377698304
";

const IO_ERRORS: &str = "IO errors since filesystem creation
  read:    3
  write:   0
  checksum:1
IO errors since 8 y ago
  read:    9
";

const COMPRESSION: &str = "typetype          compressed    uncompressed     average extent size
lz4                    48.9G           71.2G                   62.5k
incompressible         10.8T           10.8T                   90.4k
";

const WRITES: &str = "                   nr        size
initial:           3298401   100k
cache_reclaim:     14401     720
";

#[test]
fn human_sizes() {
    assert_eq!(parse_human_bytes("2.05G"), Some(2_201_170_739));
    assert_eq!(parse_human_bytes("512k"), Some(524_288));
    assert_eq!(parse_human_bytes(" 720 "), Some(720));
    assert_eq!(parse_human_bytes("k"), None);
    assert_eq!(parse_human_bytes(""), None);
}

#[test]
fn parses_the_kernel_files() {
    assert_eq!(
        parse_compression(COMPRESSION).unwrap()[0],
        ("lz4".into(), 52_505_975_193, 76_450_417_868)
    );
    assert_eq!(
        parse_btree_writes(WRITES).unwrap(),
        vec![
            ("initial".into(), 3_298_401, 102_400),
            ("cache_reclaim".into(), 14_401, 720)
        ]
    );
    assert_eq!(
        parse_errors("bset_bad_csum   2   1767112063\nshort\n").unwrap(),
        vec![("bset_bad_csum".into(), 2)]
    );
    assert_eq!(
        parse_counter("since mount:   39816825\nsince filesystem creation:  44105502\n").unwrap(),
        44_105_502
    );
    assert_eq!(parse_counter("since mount: 5\n").unwrap(), 0);
    assert!(parse_counter("nothing\n").is_err());
    let done = parse_io_done(IO_DONE).unwrap();
    assert_eq!(done.len(), 5);
    assert!(done.contains(&("write".into(), "user".into(), 252_377_698_304)));
    assert_eq!(
        parse_io_errors(IO_ERRORS).unwrap(),
        vec![
            ("read".into(), 3),
            ("write".into(), 0),
            ("checksum".into(), 1)
        ]
    );
    assert!(parse_io_errors("IO errors since filesystem creation\n read: x\n").is_err());
    assert!(parse_errors("a b\n").is_err());
    assert!(parse_compression("h\nlz4 1Q 2 3\n").is_err());
}

#[test]
fn reads_a_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fs/bcachefs");
    let collector = Bcachefs { root: root.clone() };
    assert!(matches!(
        collector.update(&mut Vec::new()),
        Err(CollectorError::NoData)
    ));
    let fs = root.join("abcd");
    write(&fs.join("btree_cache_size"), "2.05G\n");
    write(&fs.join("compression_stats"), COMPRESSION);
    write(&fs.join("btree_write_stats"), WRITES);
    write(
        &fs.join("counters/bkey_pack_pos_fail"),
        "since mount: 1\nsince filesystem creation: 2\n",
    );
    write(&fs.join("dev-0/label"), "disk-0\n");
    write(&fs.join("dev-0/state"), "rw\n");
    write(&fs.join("dev-0/bucket_size"), "512k\n");
    write(&fs.join("dev-0/nbuckets"), "100\n");
    write(&fs.join("dev-0/io_done"), IO_DONE);
    write(&fs.join("dev-0/io_errors"), IO_ERRORS);
    let mut out = Vec::new();
    collector.update(&mut out).unwrap();
    let lines = lines(&out, "/nonexistent-root");
    for line in [
        "node_bcachefs_info uuid=abcd 1",
        "node_bcachefs_btree_cache_size_bytes uuid=abcd 2201170739",
        "node_bcachefs_bkey_pack_pos_fail_total uuid=abcd 2",
        "node_bcachefs_device_info device=0,label=disk-0,state=rw,uuid=abcd 1",
        "node_bcachefs_device_durability device=0,uuid=abcd 0",
        "node_bcachefs_device_io_errors_total device=0,type=read,uuid=abcd 3",
        "node_bcachefs_btree_writes_total type=initial,uuid=abcd 3298401",
    ] {
        assert!(lines.contains(&line.to_owned()), "{line} in {lines:#?}");
    }
    write(&fs.join("dev-0/nbuckets"), "lots\n");
    let mut out = Vec::new();
    assert!(matches!(
        collector.update(&mut out),
        Err(CollectorError::Parse { .. })
    ));
    assert!(out.is_empty());
}

proptest::proptest! {
    #[test]
    fn garbage_never_panics(text in "(.{0,50}\n){0,8}") {
        let _ = parse_human_bytes(&text);
        let _ = parse_compression(&text);
        let _ = parse_btree_writes(&text);
        let _ = parse_errors(&text);
        let _ = parse_counter(&text);
        let _ = parse_io_done(&text);
        let _ = parse_io_errors(&text);
    }

    #[test]
    fn truncation_never_panics(cut in 0usize..300) {
        for text in [IO_DONE, IO_ERRORS, COMPRESSION, WRITES] {
            let text = &text[..cut.min(text.len())];
            let _ = parse_compression(text);
            let _ = parse_btree_writes(text);
            let _ = parse_io_done(text);
            let _ = parse_io_errors(text);
        }
    }
}
