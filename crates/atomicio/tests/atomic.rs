//! The atomic-output and lock promises of docs/reliability.md.

use std::path::Path;

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn writes_and_replaces_whole_files() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("out.json");
    atomicio::write(&p, b"first").unwrap();
    atomicio::write(&p, b"second").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn a_failed_rename_leaves_no_temporary_file() {
    // The destination is an existing folder: the rename must fail, and the temp file must go.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("taken");
    std::fs::create_dir(&p).unwrap();
    let e = atomicio::write(&p, b"x").unwrap_err().to_string();
    assert!(e.contains("taken") && e.contains("rename"), "{e}");
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
    // Same through a path-taking writer.
    let r: Result<(), atomicio::Error> = atomicio::write_via(&p, |tmp| {
        std::fs::write(tmp, b"x").map_err(|e| atomicio::Error::Io {
            path: tmp.into(),
            what: "w",
            error: e,
        })
    });
    assert!(r.is_err());
    assert_eq!(leftovers(d.path()), Vec::<String>::new());
}

#[test]
fn a_failing_writer_keeps_the_old_file_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.bin");
    atomicio::write(&p, b"old").unwrap();
    let r = atomicio::write_with(&p, |w| {
        use std::io::Write;
        w.write_all(b"half")?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(r.unwrap_err().to_string().contains("disk full"));
    let r = atomicio::write_with_hook(&p, |_| Ok(()), || Err(std::io::Error::other("killed")));
    assert!(r.is_err());
    assert_eq!(std::fs::read(&p).unwrap(), b"old");
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn temporary_names_are_unique_per_call() {
    // Two writers of the same destination at once never share a temporary file.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.txt");
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for k in 0..8 {
            let (p, seen) = (&p, &seen);
            s.spawn(move || {
                let r: Result<(), atomicio::Error> = atomicio::write_via(p, |tmp| {
                    seen.lock().unwrap().push(tmp.to_path_buf());
                    std::fs::write(tmp, format!("{k}")).unwrap();
                    Ok(())
                });
                r.unwrap();
            });
        }
    });
    let mut names = seen.into_inner().unwrap();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8);
    let v: u32 = std::fs::read_to_string(&p).unwrap().parse().unwrap();
    assert!(v < 8);
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn a_locked_folder_is_refused_with_its_holder_and_freed_on_drop() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    let first = atomicio::DirLock::acquire(&run, "astrodiff train").unwrap();
    let e = atomicio::DirLock::acquire(&run, "astrodiff train").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, atomicio::Error::Locked { .. }), "{msg}");
    assert!(
        msg.contains("run") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    drop(first);
    atomicio::DirLock::acquire(&run, "astrodiff train").unwrap();
}
