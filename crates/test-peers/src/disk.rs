//! A small disk that can fill up: a tmpfs of a set size mounted on a fresh temporary directory, to
//! put a relay's SQLite store on and run it out of space (`ENOSPC`, SQLite's `SQLITE_FULL`) and
//! back. Needs root with `CAP_SYS_ADMIN` (`mount -t tmpfs`); without it the test is skipped with a
//! notice, or fails when `MMSRELAY_REQUIRE_PEERS` is set (CI), like a missing peer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::external::peer_missing;

/// A mounted tmpfs; unmounted (lazily, should a process still hold a file) and removed on drop.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` on a new temporary directory. `None` (test skipped) when mounting
    /// is not allowed here; panics instead when `MMSRELAY_REQUIRE_PEERS` is set.
    pub fn mount(bytes: u64) -> Option<Self> {
        let dir = temp_dir("mmsrelay-disk-");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if peer_missing("tmpfs mount (root with CAP_SYS_ADMIN)", ok) {
            return None;
        }
        Some(Self { dir })
    }

    /// Where the tmpfs is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A directory inside the tmpfs, created.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).expect("directory on the small disk");
        p
    }

    /// Bytes in use on the tmpfs.
    pub fn used(&self) -> u64 {
        let (blocks, free, size) = self.statfs();
        (blocks - free) * size
    }

    /// The tmpfs's size in bytes.
    pub fn size(&self) -> u64 {
        let (blocks, _, size) = self.statfs();
        blocks * size
    }

    /// Resizes the tmpfs to `bytes` (rounded up to pages by the kernel). A size below what is in
    /// use is refused by the kernel: use [`SmallDisk::fill_up`] to leave no room.
    pub fn resize(&self, bytes: u64) {
        run_mount(&["-o", &format!("remount,size={bytes}")], self.path());
    }

    /// Bind-mounts the disk read-only on a new temporary directory.
    pub fn read_only_view(&self) -> ReadOnlyView {
        let view = ReadOnlyView {
            dir: temp_dir("mmsrelay-ro-"),
        };
        run_mount(&["--bind", &self.path().display().to_string()], view.path());
        run_mount(&["-o", "remount,ro,bind"], view.path());
        view
    }

    /// Leaves at most `slack` bytes free: shrinks the tmpfs to what is in use plus `slack`.
    pub fn fill_up(&self, slack: u64) {
        self.resize(self.used() + slack);
    }

    /// (total blocks, free blocks, block size) of the mounted tmpfs.
    fn statfs(&self) -> (u64, u64, u64) {
        let out = Command::new("stat")
            .args(["-f", "-c", "%b %f %S"])
            .arg(self.path())
            .output()
            .expect("stat runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<u64> = text
            .split_whitespace()
            .map(|n| n.parse().expect("stat -f prints numbers"))
            .collect();
        assert_eq!(v.len(), 3, "stat -f -c '%b %f %S': {text}");
        (v[0], v[1], v[2])
    }
}

/// A read-only view of a [`SmallDisk`]: the same files, bind-mounted read-only on another
/// temporary directory (a file system mounted read-only, or a store an operator cannot write).
pub struct ReadOnlyView {
    dir: tempfile::TempDir,
}

impl ReadOnlyView {
    /// Where the read-only view is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).output();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).output();
    }
}

/// A new temporary directory named `prefix…`.
fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory")
}

/// Runs `mount ARGS TARGET`; panics with mount's own message when it fails.
fn run_mount(args: &[&str], target: &Path) {
    let out = Command::new("mount")
        .args(args)
        .arg(target)
        .output()
        .expect("mount runs");
    assert!(
        out.status.success(),
        "mount {args:?} {}: {}",
        target.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
