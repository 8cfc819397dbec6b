use super::*;

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vroot-tree-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn writing_replaces_a_planted_symlink_instead_of_following_it() {
    let scratch = Scratch::new("write");
    let victim = scratch.0.join("victim");
    std::fs::write(&victim, "host file\n").unwrap();
    let tree_dir = scratch.0.join("tree");
    std::fs::create_dir_all(tree_dir.join("etc")).unwrap();
    std::os::unix::fs::symlink(&victim, tree_dir.join("etc/hostname")).unwrap();
    let tree = Tree::open(&tree_dir).unwrap();
    tree.write_atomic(Path::new("/etc/hostname"), b"node\n", 0o644)
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file\n");
    assert_eq!(
        std::fs::read_to_string(tree_dir.join("etc/hostname")).unwrap(),
        "node\n"
    );
    assert!(!tree_dir.join("etc/hostname").is_symlink());
}

#[test]
fn a_symlinked_directory_resolves_inside_the_tree() {
    let scratch = Scratch::new("resolve");
    let outside = scratch.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "host\n").unwrap();
    let tree_dir = scratch.0.join("tree");
    std::fs::create_dir_all(&tree_dir).unwrap();
    // An absolute link to the host directory: inside the tree it names
    // the tree's own (missing) directory of that path.
    std::os::unix::fs::symlink(&outside, tree_dir.join("link")).unwrap();
    let tree = Tree::open(&tree_dir).unwrap();
    assert_eq!(tree.lstat(Path::new("/link/secret")).unwrap(), None);
    assert!(tree.read(Path::new("/link/secret"), 100).is_err());
    assert!(tree.mkdir_all(Path::new("/link/made"), 0o755).is_err());
    assert!(!outside.join("made").exists());
    assert_eq!(
        tree.lstat(Path::new("/link")).unwrap().unwrap().kind,
        Kind::Symlink
    );
}

#[test]
fn copies_keep_modes_and_links_and_skip_what_is_there() {
    let scratch = Scratch::new("copy");
    let source_dir = scratch.0.join("source");
    std::fs::create_dir_all(source_dir.join("var/lib/nfs/sm")).unwrap();
    std::fs::write(source_dir.join("var/lib/nfs/state"), "1\n").unwrap();
    std::fs::set_permissions(
        source_dir.join("var/lib/nfs/state"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("state", source_dir.join("var/lib/nfs/link")).unwrap();
    std::fs::write(source_dir.join("var/lib/nfs/sm/host"), "x").unwrap();
    let target_dir = scratch.0.join("target");
    std::fs::create_dir_all(&target_dir).unwrap();
    let (source, target) = (
        Tree::open(&source_dir).unwrap(),
        Tree::open(&target_dir).unwrap(),
    );
    target.mkdir_all(Path::new("/var/lib"), 0o755).unwrap();
    target
        .copy_from(&source, Path::new("/var/lib/nfs"))
        .unwrap();
    let state = target
        .lstat(Path::new("/var/lib/nfs/state"))
        .unwrap()
        .unwrap();
    assert_eq!((state.kind, state.mode), (Kind::File, 0o600));
    assert_eq!(
        target.read_link(Path::new("/var/lib/nfs/link")).unwrap(),
        "state"
    );
    assert_eq!(
        source.digest(Path::new("/var/lib/nfs")).unwrap(),
        target.digest(Path::new("/var/lib/nfs")).unwrap()
    );
    std::fs::write(source_dir.join("var/lib/nfs/state"), "2\n").unwrap();
    assert_ne!(
        source.digest(Path::new("/var/lib/nfs")).unwrap(),
        target.digest(Path::new("/var/lib/nfs")).unwrap(),
        "a changed file changes the tree's digest"
    );
    target
        .copy_from(&source, Path::new("/var/lib/nfs/state"))
        .unwrap();
    assert_eq!(
        target.read(Path::new("/var/lib/nfs/state"), 10).unwrap(),
        b"1\n"
    );

    let skel = scratch.0.join("skel");
    std::fs::create_dir_all(&skel).unwrap();
    let skel = Tree::open(&skel).unwrap();
    skel.copy_dirs_from(&source, Path::new("/var")).unwrap();
    assert_eq!(
        skel.lstat(Path::new("/var/lib/nfs/sm"))
            .unwrap()
            .unwrap()
            .kind,
        Kind::Dir
    );
    assert_eq!(skel.lstat(Path::new("/var/lib/nfs/state")).unwrap(), None);
}
