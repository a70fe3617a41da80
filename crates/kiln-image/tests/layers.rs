//! Layer bytes are the product's identity: these tests pin them and read them back with an
//! independent tar/gzip reader (the `tar` crate's reader over `flate2`'s decoder is only a
//! reader; the system `tar` is used where the check is about what users would see).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use kiln_image::BlobStore;
use kiln_image::builtin::write_builtin_base;
use kiln_image::ko_layers::{binary_layer, kodata_allowed_root, kodata_layer};
use kiln_image::spec::media_type::{OCI_LAYER_GZIP, OCI_LAYER_ZSTD};

/// `tar -tvzf` of a blob, as a user would list it.
fn list(path: &Path) -> String {
    let out = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(path)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn golden_digests_pin_the_compressor_and_the_builtin_base() {
    // If this fails, every image digest kiln produces has changed: a flate2/zlib-rs bump,
    // a new gzip level, a tar header change, a zstd bump or level, or a new
    // webpki-root-certs. Only update the values on purpose, and say so in the changelog.
    // (Last changed on purpose: gzip level 1 → 2, layers smaller than ko's.)
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let bin = dir.path().join("app");
    fs::write(&bin, b"#!/bin/sh\necho hello\n").unwrap();
    let layer = binary_layer(&store, &bin, "app", OCI_LAYER_GZIP).unwrap();
    assert_eq!(
        layer.descriptor.digest.to_string(),
        "sha256:be56c7d3f6dc3f88227eaf8d97cb52a8538e89c0847ba2f4a612f52f3a7c3235",
    );
    let zstd = binary_layer(&store, &bin, "app", OCI_LAYER_ZSTD).unwrap();
    assert_eq!(
        zstd.descriptor.digest.to_string(),
        "sha256:d31af5a697c53744ead69ff748dadbae0afec757162a04b0591531654460979e",
    );
    assert_eq!(zstd.diff_id, layer.diff_id, "same tar, another compressor");
    let base = write_builtin_base(&store).unwrap();
    assert_eq!(
        base.digest.to_string(),
        "sha256:f02aac4e9f476327f3259270f779a59d71cf3134102a8dc070cbd686ea34923f"
    );
}

#[test]
fn binary_layer_has_ko_app_entries_with_mode_0555_and_epoch_zero() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    let bin = dir.path().join("app");
    fs::write(&bin, vec![7u8; 100_000]).unwrap();
    let layer = binary_layer(&store, &bin, "hello", OCI_LAYER_GZIP).unwrap();
    let listing = list(&store.path(&layer.descriptor.digest));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].starts_with("dr-xr-xr-x 0/0") && lines[0].ends_with("1970-01-01 00:00 ko-app/"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("-r-xr-xr-x 0/0")
            && lines[1].contains("100000 1970-01-01 00:00 ko-app/hello"),
        "{listing}"
    );
    assert_eq!(
        layer.descriptor.size,
        fs::metadata(store.path(&layer.descriptor.digest))
            .unwrap()
            .len()
    );
}

fn kodata_fixture(root: &Path) -> std::path::PathBuf {
    let kodata = root.join("app/kodata");
    fs::create_dir_all(kodata.join("sub")).unwrap();
    fs::write(kodata.join("sub/file.txt"), "in a subdir\n").unwrap();
    fs::write(root.join("app/kenobi.txt"), "Hello there\n").unwrap();
    symlink("../kenobi.txt", kodata.join("kenobi")).unwrap();
    kodata
}

#[test]
fn kodata_layer_follows_symlinks_inside_the_git_worktree() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    let kodata = kodata_fixture(dir.path());
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    let root = kodata_allowed_root(&kodata, None);
    let layer = kodata_layer(&store, Some(&kodata), &root, 5000, OCI_LAYER_GZIP).unwrap();
    let listing = list(&store.path(&layer.descriptor.digest));
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "var/",
            "var/run/",
            "var/run/ko/",
            "var/run/ko/kenobi",
            "var/run/ko/sub/",
            "var/run/ko/sub/file.txt"
        ]
    );
    assert!(
        listing
            .lines()
            .all(|l| l.contains("1970-01-01 01:23") && l[1..10].eq("r-xr-xr-x")),
        "{listing}"
    );
}

#[test]
fn kodata_symlink_outside_the_allowed_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let kodata = kodata_fixture(dir.path()); // no .git: the root is kodata itself
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    let root = kodata_allowed_root(&kodata, None);
    let err = kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("kenobi") && msg.contains("outside the allowed root"),
        "{msg}"
    );
    // KO_DATA_PATH_ALLOWED_ROOT widens it.
    let root = kodata_allowed_root(&kodata, Some(dir.path()));
    kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP).unwrap();
    // ...but a sibling path that merely shares a prefix is not an ancestor.
    let sibling = dir.path().join("ap");
    fs::create_dir(&sibling).unwrap();
    assert_eq!(
        kodata_allowed_root(&kodata, Some(&sibling)).root,
        fs::canonicalize(&kodata).unwrap()
    );
}

#[test]
fn kodata_symlinks_into_git_or_to_ignored_files_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(
        dir.path().join(".git/config"),
        "[http] extraheader = secret\n",
    )
    .unwrap();
    fs::write(dir.path().join(".env"), "TOKEN=secret\n").unwrap();
    let kodata = kodata_fixture(dir.path());
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    symlink("../../.git/config", kodata.join("config")).unwrap();
    let root = kodata_allowed_root(&kodata, None);
    let msg = kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("kodata/config")
            && msg.contains("into the git directory (.git)")
            && msg.contains("KO_DATA_PATH_ALLOWED_ROOT"),
        "{msg}"
    );
    fs::remove_file(kodata.join("config")).unwrap();
    symlink("../../.env", kodata.join("env")).unwrap();
    let ignored = vec![fs::canonicalize(dir.path().join(".env")).unwrap()];
    let root = kodata_allowed_root(&kodata, None).with_ignored(ignored.clone());
    let msg = kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("kodata/env") && msg.contains("git ignores"),
        "{msg}"
    );
    // The escape hatch: an explicit KO_DATA_PATH_ALLOWED_ROOT.
    let root = kodata_allowed_root(&kodata, Some(dir.path())).with_ignored(ignored);
    kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP).unwrap();
}

#[test]
fn a_deep_kodata_tree_is_walked_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let kodata = dir.path().join("kodata");
    let mut deepest = kodata.clone();
    for _ in 0..1200 {
        deepest.push("d");
    }
    fs::create_dir_all(&deepest).unwrap();
    fs::write(deepest.join("leaf"), "deep\n").unwrap();
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    let started = std::time::Instant::now();
    let root = kodata_allowed_root(&kodata, None);
    let layer = kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP).unwrap();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    let listing = list(&store.path(&layer.descriptor.digest));
    assert_eq!(listing.lines().count(), 3 + 1200 + 1);
}

#[test]
fn kodata_symlink_cycle_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let kodata = dir.path().join("kodata");
    fs::create_dir_all(kodata.join("a")).unwrap();
    symlink("..", kodata.join("a/up")).unwrap();
    let store = BlobStore::open(&dir.path().join("store")).unwrap();
    let root = kodata_allowed_root(&kodata, None);
    let err = kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

#[test]
fn missing_kodata_still_gives_the_three_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let root = kodata_allowed_root(dir.path(), None);
    let layer = kodata_layer(&store, None, &root, 0, OCI_LAYER_GZIP).unwrap();
    let listing = list(&store.path(&layer.descriptor.digest));
    assert_eq!(listing.lines().count(), 3, "{listing}");
}

#[test]
fn same_tree_in_another_directory_gives_the_same_digest() {
    let digests: Vec<_> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join(".git")).unwrap();
            let kodata = kodata_fixture(dir.path());
            let store = BlobStore::open(&dir.path().join("store")).unwrap();
            let root = kodata_allowed_root(&kodata, None);
            kodata_layer(&store, Some(&kodata), &root, 0, OCI_LAYER_GZIP)
                .unwrap()
                .descriptor
                .digest
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}
