//! Users and groups from `/etc/passwd` and `/etc/group` of the host or of a container.

use super::fx::FxHashMap;
use std::path::Path;

/// One `/etc/passwd` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserEntry {
    /// Login name.
    pub name: String,
    /// Primary gid.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// The users and groups of one root file system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserDb {
    users: FxHashMap<u32, UserEntry>,
    groups: FxHashMap<u32, String>,
}

impl UserDb {
    /// Reads `<root>/etc/passwd` and `<root>/etc/group`; a missing or unreadable file gives no
    /// entries, malformed lines are skipped.
    pub fn load(root: &Path) -> UserDb {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
        UserDb::parse(&read("etc/passwd"), &read("etc/group"))
    }

    /// Parses the text of a passwd and a group file. The first entry of a duplicated id wins, as
    /// `getpwuid` returns it.
    pub fn parse(passwd: &str, group: &str) -> UserDb {
        let mut db = UserDb::default();
        for line in passwd.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') || line.starts_with('+') || line.starts_with('-') {
                continue;
            }
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[0].is_empty() {
                continue;
            }
            let (Ok(uid), Ok(gid)) = (f[2].parse::<u32>(), f[3].parse::<u32>()) else {
                continue;
            };
            db.users.entry(uid).or_insert_with(|| UserEntry {
                name: f[0].to_string(),
                gid,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            });
        }
        for line in group.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 3 || f[0].is_empty() {
                continue;
            }
            if let Ok(gid) = f[2].parse::<u32>() {
                db.groups.entry(gid).or_insert_with(|| f[0].to_string());
            }
        }
        db
    }

    /// The user with this uid.
    pub fn user(&self, uid: u32) -> Option<&UserEntry> {
        self.users.get(&uid)
    }

    /// The name of the group with this gid.
    pub fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }

    /// Adds or replaces a user.
    pub fn insert_user(&mut self, uid: u32, entry: UserEntry) {
        self.users.insert(uid, entry);
    }

    /// Adds or replaces a group.
    pub fn insert_group(&mut self, gid: u32, name: impl Into<String>) {
        self.groups.insert(gid, name.into());
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group() {
        let db = UserDb::parse(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\ndup:x:0:0::/:/bin/sh\nweird:x:abc:0::/:/bin/sh\n",
            "root:x:0:\nshadow:x:42:\n\nbroken\n",
        );
        assert_eq!(db.user(0).unwrap().name, "root");
        assert_eq!(db.user(0).unwrap().home, "/root");
        assert_eq!(db.user(65534).unwrap().shell, "/usr/sbin/nologin");
        assert_eq!(db.user_count(), 2);
        assert_eq!(db.group(42), Some("shadow"));
        assert_eq!(db.group(7), None);
    }
}
