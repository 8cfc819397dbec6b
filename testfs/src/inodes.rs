//! FUSE inode numbers for the backing files.
//!
//! Every backing inode, named by its `(st_dev, st_ino)`, gets one FUSE inode
//! number the first time it is seen and keeps it for the daemon's life, so
//! `st_ino` seen through the mount is stable like on a real filesystem. While
//! the kernel knows an inode (its lookup count is above zero) the table also
//! keeps a handle to the backing file, an `O_PATH` descriptor in practice;
//! the kernel's `forget` drops it.

use std::collections::HashMap;

/// The FUSE inode number of the mount's root.
pub const ROOT: u64 = 1;

/// A backing inode: `(st_dev, st_ino)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub dev: u64,
    pub ino: u64,
}

#[derive(Debug)]
struct Node<H> {
    handle: Option<H>,
    lookups: u64,
}

#[derive(Debug)]
pub struct InodeTable<H> {
    numbers: HashMap<Key, u64>,
    nodes: HashMap<u64, Node<H>>,
    next: u64,
}

impl<H> InodeTable<H> {
    /// A table whose root, [`ROOT`], is `root` and is never forgotten.
    pub fn new(root: Key, handle: H) -> Self {
        let mut table = InodeTable {
            numbers: HashMap::from([(root, ROOT)]),
            nodes: HashMap::new(),
            next: ROOT + 1,
        };
        table.nodes.insert(
            ROOT,
            Node {
                handle: Some(handle),
                lookups: 1,
            },
        );
        table
    }

    /// The number of `key`, allocated now if it has none yet.
    pub fn number(&mut self, key: Key) -> u64 {
        if let Some(&ino) = self.numbers.get(&key) {
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.numbers.insert(key, ino);
        ino
    }

    /// Records one kernel lookup of `key`, whose backing file `handle` was
    /// just opened; if the table already holds a handle for it, `handle` is
    /// dropped. Returns the inode number.
    pub fn lookup(&mut self, key: Key, handle: H) -> u64 {
        let ino = self.number(key);
        let node = self.nodes.entry(ino).or_insert(Node {
            handle: None,
            lookups: 0,
        });
        if node.handle.is_none() {
            node.handle = Some(handle);
        }
        node.lookups = node.lookups.saturating_add(1);
        ino
    }

    /// The kernel forgot `count` lookups of `ino`; at zero its handle is
    /// dropped (its number stays). The root is never forgotten.
    pub fn forget(&mut self, ino: u64, count: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(count);
            if node.lookups == 0 {
                self.nodes.remove(&ino);
            }
        }
    }

    /// The backing handle of an inode the kernel knows.
    pub fn handle(&self, ino: u64) -> Option<&H> {
        self.nodes.get(&ino).and_then(|node| node.handle.as_ref())
    }

    /// How many inodes currently hold a handle (for tests).
    #[cfg(test)]
    fn live(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ino: u64) -> Key {
        Key { dev: 7, ino }
    }

    #[test]
    fn root_is_one_and_never_forgotten() {
        let mut table = InodeTable::new(key(2), "root");
        assert_eq!(table.handle(ROOT), Some(&"root"));
        assert_eq!(table.lookup(key(2), "again"), ROOT);
        table.forget(ROOT, 100);
        assert_eq!(table.handle(ROOT), Some(&"root"));
    }

    #[test]
    fn lookups_are_counted_and_forget_drops_the_handle() {
        let mut table = InodeTable::new(key(2), "root");
        let ino = table.lookup(key(10), "a");
        assert_ne!(ino, ROOT);
        assert_eq!(table.lookup(key(10), "b"), ino);
        // The first handle is kept.
        assert_eq!(table.handle(ino), Some(&"a"));
        table.forget(ino, 1);
        assert_eq!(table.handle(ino), Some(&"a"));
        table.forget(ino, 1);
        assert_eq!(table.handle(ino), None);
        assert_eq!(table.live(), 1);
    }

    #[test]
    fn numbers_are_stable_and_distinct() {
        let mut table = InodeTable::new(key(2), "root");
        let a = table.lookup(key(10), "a");
        let b = table.number(Key { dev: 8, ino: 10 });
        assert_ne!(a, b);
        table.forget(a, 1);
        // Seen again after being forgotten: same number, new handle.
        assert_eq!(table.lookup(key(10), "a2"), a);
        assert_eq!(table.handle(a), Some(&"a2"));
        // A number handed out by `number` (e.g. for readdir) is reused by lookup.
        assert_eq!(table.lookup(Key { dev: 8, ino: 10 }, "b"), b);
    }

    #[test]
    fn forgetting_unknown_or_too_much_is_harmless() {
        let mut table = InodeTable::new(key(2), "root");
        table.forget(999, 1);
        let ino = table.lookup(key(3), "x");
        table.forget(ino, 5);
        assert_eq!(table.handle(ino), None);
    }
}
