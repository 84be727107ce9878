//! dist/: everything the static server hands the browser, copied from the source tree.
//!
//! Copies are incremental (size or modification time) so a rebuild that changed nothing
//! does not rewrite ~60 MB of data.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{data, model, wasm};

pub fn dir(root: &Path) -> PathBuf {
    root.join("dist")
}

/// The offline cache's service worker, in www/ and copied to the root of dist/.
const SERVICE_WORKER: &str = "sw.js";

/// Which data sets this build serves, for the page's data-set control (relative to dist/).
pub const DATASETS_MANIFEST: &str = "datasets.json";

/// What datasets.json says: MNIST always, Fashion-MNIST when both its files and its shipped
/// checkpoint are in dist/ (the page offers it only then, and says how to get it otherwise).
fn datasets_json(fashion: bool) -> String {
    let names: &[&str] = if fashion {
        &["mnist", "fashion"]
    } else {
        &["mnist"]
    };
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("{{\"datasets\": [{}]}}\n", quoted.join(", "))
}

/// Writes dist/datasets.json from what dist/ holds now (after the shipped checkpoints).
pub fn write_datasets(root: &Path) -> Result<()> {
    let dist = dir(root);
    let fashion = data::has_all(&dist.join("data").join("fashion"))
        && model::shipped_fashion_path(root).is_file();
    let path = dist.join(DATASETS_MANIFEST);
    fs::write(&path, datasets_json(fashion))
        .with_context(|| format!("writing {}", path.display()))?;
    step!(
        "dist: data sets on the page: MNIST{}",
        if fashion {
            " and Fashion-MNIST"
        } else {
            " (no Fashion-MNIST in this build)"
        }
    );
    Ok(())
}

/// Every file of www/ the page loads must be in the service worker's list, or the page breaks
/// offline in a way no online test sees.
fn check_offline_list(www: &Path, sw: &Path) -> Result<()> {
    let list = fs::read_to_string(sw).with_context(|| format!("reading {}", sw.display()))?;
    let mut missing = Vec::new();
    for entry in read_dir(www)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let page_file = [".js", ".css", ".svg", ".html"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if page_file && name != SERVICE_WORKER && !list.contains(&format!("'./www/{name}'")) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} does not list {} for offline use: add them to its FILES",
            sw.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// Every file of the wasm builds (dist/pkg, and dist/pkg-mt with its thread pool's worker
/// script) and builds.json must be in the list too: offline, a missing one would leave the page
/// without its engine, or the threaded build without its threads.
fn check_offline_pkgs(dist: &Path, sw: &Path) -> Result<()> {
    let list = fs::read_to_string(sw).with_context(|| format!("reading {}", sw.display()))?;
    // builds.json says which build the worker loads, datasets.json which data sets it offers.
    let mut files = vec![
        dist.join(wasm::BUILDS_MANIFEST),
        dist.join(DATASETS_MANIFEST),
    ];
    for pkg in [wasm::PKG, wasm::THREADED_PKG] {
        list_files(&dist.join(pkg), &mut files)?;
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|file| file.is_file())
        .map(|file| {
            let relative = file.strip_prefix(dist).unwrap_or(file);
            format!("'./{}'", relative.to_string_lossy())
        })
        .filter(|entry| !list.contains(entry))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} does not list {} for offline use: add them to its FILES",
            sw.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// The files under `dir`, recursively; nothing when it does not exist.
fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in read_dir(dir)? {
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[derive(Default)]
struct Tally {
    copied: usize,
    unchanged: usize,
    removed: usize,
}

/// index.html, www/ (mirrored, stale files removed) and the data sets' .gz files.
pub fn assemble(root: &Path) -> Result<()> {
    let dist = dir(root);
    let mut tally = Tally::default();

    let index = root.join("index.html");
    if !index.is_file() {
        bail!(
            "{} is missing: the page's entry point must be index.html at the repo root",
            index.display()
        );
    }
    sync_file(&index, &dist.join("index.html"), &mut tally)?;

    let www = root.join("www");
    if !www.is_dir() {
        bail!(
            "{} is missing: the page's scripts and styles live there",
            www.display()
        );
    }
    // Pruning first also clears a file where a folder now is (and the reverse).
    prune(&www, &dist.join("www"), &mut tally)?;
    sync_tree(&www, &dist.join("www"), &mut tally)?;
    // The service worker controls only pages at or below its folder, so it goes to the root.
    let sw = www.join(SERVICE_WORKER);
    check_offline_list(&www, &sw)?;
    check_offline_pkgs(&dist, &sw)?;
    sync_file(&sw, &dist.join(SERVICE_WORKER), &mut tally)?;

    for (src, name) in [
        (data::mnist_dir(root), "mnist"),
        (data::fashion_dir(root), "fashion"),
        (data::calibration_dir(root), "calibration"),
        (data::fashion_calibration_dir(root), "calibration-fashion"),
    ] {
        if src.is_dir() {
            sync_gz(&src, &dist.join("data").join(name), &mut tally)?;
        }
    }
    step!(
        "dist: {} file(s) copied, {} unchanged, {} stale removed",
        tally.copied,
        tally.unchanged,
        tally.removed
    );
    Ok(())
}

fn sync_gz(src: &Path, dst: &Path, tally: &mut Tally) -> Result<()> {
    for entry in read_dir(src)? {
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "gz") {
            sync_file(&path, &dst.join(entry.file_name()), tally)?;
        }
    }
    Ok(())
}

/// Recursive copy; symlinks are followed so dist/ holds plain files the server can hand out.
fn sync_tree(src: &Path, dst: &Path, tally: &mut Tally) -> Result<()> {
    for entry in read_dir(src)? {
        let path = entry.path();
        let target = dst.join(entry.file_name());
        if path.is_dir() {
            sync_tree(&path, &target, tally)?;
        } else if path.is_file() {
            sync_file(&path, &target, tally)?;
        }
    }
    Ok(())
}

/// Removes what is in `dst` but no longer in `src` (renamed or deleted sources would otherwise
/// keep being served and mask mistakes).
fn prune(src: &Path, dst: &Path, tally: &mut Tally) -> Result<()> {
    if !dst.is_dir() {
        return Ok(());
    }
    for entry in read_dir(dst)? {
        let target = entry.path();
        let source = src.join(entry.file_name());
        let target_is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if target_is_dir && source.is_dir() {
            prune(&source, &target, tally)?;
        } else if target_is_dir && !source.is_dir() {
            fs::remove_dir_all(&target)
                .with_context(|| format!("removing stale {}", target.display()))?;
            tally.removed += 1;
        } else if !source.is_file() {
            fs::remove_file(&target)
                .with_context(|| format!("removing stale {}", target.display()))?;
            tally.removed += 1;
        }
    }
    Ok(())
}

/// Copies when the destination is missing, differs in size, or is older than the source.
fn sync_file(src: &Path, dst: &Path, tally: &mut Tally) -> Result<()> {
    let src_meta = src
        .metadata()
        .with_context(|| format!("reading {}", src.display()))?;
    if let Ok(dst_meta) = dst.metadata() {
        let fresh = dst_meta.is_file()
            && dst_meta.len() == src_meta.len()
            && matches!(
                (src_meta.modified(), dst_meta.modified()),
                (Ok(s), Ok(d)) if d >= s
            );
        if fresh {
            tally.unchanged += 1;
            return Ok(());
        }
        if dst_meta.is_dir() {
            fs::remove_dir_all(dst).with_context(|| format!("removing {}", dst.display()))?;
        }
    }
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::copy(src, dst)
        .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    tally.copied += 1;
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|iter| iter.collect::<std::io::Result<Vec<_>>>())
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_list_must_name_every_file_of_both_builds() {
        let base = std::env::temp_dir().join(format!("xtask-dist-sw-{}", std::process::id()));
        let snippet = base.join("pkg-mt/snippets/rayon-1/src");
        fs::create_dir_all(&snippet).expect("mkdir");
        fs::create_dir_all(base.join("pkg")).expect("mkdir");
        for file in [
            base.join("builds.json"),
            base.join("pkg/pruneplay.js"),
            base.join("pkg-mt/pruneplay.js"),
            snippet.join("workerHelpers.js"),
        ] {
            fs::write(file, "x").expect("write");
        }
        let sw = base.join("sw.js");
        let all = "'./builds.json', './pkg/pruneplay.js', './pkg-mt/pruneplay.js', \
                   './pkg-mt/snippets/rayon-1/src/workerHelpers.js'";
        fs::write(&sw, all).expect("write");
        check_offline_pkgs(&base, &sw).expect("everything is listed");
        fs::write(&sw, all.replace("rayon-1", "rayon-0")).expect("write");
        let err = check_offline_pkgs(&base, &sw).expect_err("the snippet is missing");
        assert!(
            format!("{err}").contains("'./pkg-mt/snippets/rayon-1/src/workerHelpers.js'"),
            "{err}"
        );
        // Without a threaded build there is nothing of it to list.
        fs::remove_dir_all(base.join("pkg-mt")).expect("rm");
        check_offline_pkgs(&base, &sw).expect("nothing missing");
        fs::remove_dir_all(&base).expect("cleanup");
    }

    #[test]
    fn datasets_json_names_fashion_only_when_it_is_there() {
        assert_eq!(datasets_json(false), "{\"datasets\": [\"mnist\"]}\n");
        assert_eq!(
            datasets_json(true),
            "{\"datasets\": [\"mnist\", \"fashion\"]}\n"
        );
    }

    #[test]
    fn mirrors_nested_files_and_removes_stale_ones() {
        let base = std::env::temp_dir().join(format!("xtask-dist-test-{}", std::process::id()));
        let (src, dst) = (base.join("www"), base.join("dist-www"));
        fs::create_dir_all(src.join("sub")).expect("mkdir");
        fs::write(src.join("app.js"), "a").expect("write");
        fs::write(src.join("sub").join("x.css"), "b").expect("write");
        fs::create_dir_all(dst.join("gone")).expect("mkdir");
        fs::write(dst.join("gone").join("old.js"), "c").expect("write");
        fs::write(dst.join("old.txt"), "d").expect("write");

        let mut tally = Tally::default();
        prune(&src, &dst, &mut tally).expect("prune");
        sync_tree(&src, &dst, &mut tally).expect("sync");
        assert_eq!((tally.copied, tally.removed), (2, 2));
        assert_eq!(
            fs::read_to_string(dst.join("sub").join("x.css")).expect("read"),
            "b"
        );
        assert!(!dst.join("gone").exists() && !dst.join("old.txt").exists());

        let mut again = Tally::default();
        sync_tree(&src, &dst, &mut again).expect("sync");
        assert_eq!((again.copied, again.unchanged), (0, 2));
        fs::remove_dir_all(&base).expect("cleanup");
    }
}
