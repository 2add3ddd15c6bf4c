//! Finding input files and reading them into an [`Inventory`].

use crate::diag::{DiagCode, DiagLevel, Diagnostic};
use crate::object::{Inventory, LoadOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl Input {
    /// Name used in messages.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
        }
    }
}

/// True for file names that are scanned when found in a directory.
pub fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Expands the paths given by the user: `-` is standard input, files are taken as given,
/// directories are walked recursively for `.yaml`, `.yml` and `.json` files (sorted, hidden
/// directories skipped). Unreadable paths become diagnostics.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<Diagnostic>) {
    let mut inputs = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => diags.push(io_diag(p, &e.to_string())),
            Ok(m) if m.is_dir() => {
                let walker = walkdir::WalkDir::new(p)
                    .follow_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| {
                        e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                    });
                for entry in walker {
                    match entry {
                        Err(e) => {
                            let path = e.path().unwrap_or(p).to_path_buf();
                            diags.push(io_diag(&path, &e.to_string()));
                        }
                        Ok(e) if e.file_type().is_file() && is_manifest_name(e.path()) => {
                            let path = e.into_path();
                            // `palisade scan .` should print `a.yaml`, not `./a.yaml`.
                            let path = match path.strip_prefix(".") {
                                Ok(rel) if p.as_os_str() == "." => rel.to_path_buf(),
                                _ => path,
                            };
                            inputs.push(Input::File(path))
                        }
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) => inputs.push(Input::File(p.clone())),
        }
    }
    (inputs, diags)
}

fn io_diag(path: &Path, msg: &str) -> Diagnostic {
    Diagnostic {
        level: DiagLevel::Error,
        code: DiagCode::Io,
        file: path.display().to_string(),
        pos: None,
        field: None,
        message: msg.to_string(),
    }
}

impl Inventory {
    /// Reads one input and adds its objects; read errors become diagnostics.
    pub fn add_input(&mut self, input: &Input, opts: &LoadOptions) {
        let name = input.name();
        let mut bytes = Vec::new();
        let limit = opts.limits.max_bytes as u64 + 1;
        let read = match input {
            Input::Stdin => std::io::stdin().lock().take(limit).read_to_end(&mut bytes),
            Input::File(p) => {
                std::fs::File::open(p).and_then(|f| f.take(limit).read_to_end(&mut bytes))
            }
        };
        if let Err(e) = read {
            self.diagnostics
                .push(io_diag(Path::new(&name), &e.to_string()));
            return;
        }
        if bytes.len() > opts.limits.max_bytes {
            self.diagnostics.push(Diagnostic {
                level: DiagLevel::Error,
                code: DiagCode::Limit,
                file: name,
                pos: None,
                field: None,
                message: format!("input larger than {} bytes; refused", opts.limits.max_bytes),
            });
            return;
        }
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.add_text(&name, &text, opts);
            }
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
                let col = valid.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
                self.diagnostics.push(Diagnostic {
                    level: DiagLevel::Error,
                    code: DiagCode::Syntax,
                    file: name,
                    pos: Some(crate::node::Pos::new(line, col)),
                    field: None,
                    message: "invalid UTF-8; file skipped".into(),
                });
            }
        }
    }

    /// Loads `inputs` on up to `threads` threads (each reads a contiguous share of the inputs;
    /// the shares are appended in order, so the result is the same as a sequential load).
    /// `progress` is called once per input read.
    pub fn load_inputs(
        inputs: &[Input],
        opts: &LoadOptions,
        threads: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Inventory {
        let threads = threads.clamp(1, inputs.len().max(1));
        // Standard input cannot be shared between threads; it is read on the first share.
        if threads == 1 || inputs.contains(&Input::Stdin) {
            let mut inv = Inventory::new();
            for i in inputs {
                inv.add_input(i, opts);
                progress();
            }
            return inv;
        }
        let share = inputs.len().div_ceil(threads);
        let parts: Vec<Inventory> = std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .chunks(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut inv = Inventory::new();
                        for i in chunk {
                            inv.add_input(i, opts);
                            progress();
                        }
                        inv
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut inv = Inventory::new();
        for p in parts {
            inv.append(p);
        }
        inv
    }

    /// Collects and loads every input under `paths` on every available core; problems with
    /// the paths themselves come first among the diagnostics.
    pub fn load_paths(paths: &[PathBuf], opts: &LoadOptions) -> Inventory {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self::load_paths_with(paths, opts, threads, &|| {})
    }

    /// [`Inventory::load_paths`] with a thread count and a progress callback (called once per
    /// input read, after the inputs are known; the count is returned by [`collect_inputs`]).
    pub fn load_paths_with(
        paths: &[PathBuf],
        opts: &LoadOptions,
        threads: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Inventory {
        let (inputs, mut diags) = collect_inputs(paths);
        let mut inv = Inventory::load_inputs(&inputs, opts, threads, progress);
        diags.append(&mut inv.diagnostics);
        inv.diagnostics = diags;
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_load_equals_sequential_load() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..9 {
            let ns = if i == 4 {
                "kind: Namespace\nmetadata: {name: n4}".to_string()
            } else {
                format!("kind: Pod\nmetadata: {{name: p{i}, namespace: n{i}}}")
            };
            std::fs::write(
                dir.path().join(format!("f{i}.yaml")),
                format!("apiVersion: v1\n{ns}\n---\nbad: [\n"),
            )
            .unwrap();
        }
        let (inputs, _) = collect_inputs(&[dir.path().to_path_buf()]);
        let seq = Inventory::load_inputs(&inputs, &LoadOptions::default(), 1, &|| {});
        let count = std::sync::atomic::AtomicUsize::new(0);
        let par = Inventory::load_inputs(&inputs, &LoadOptions::default(), 4, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(count.into_inner(), 9);
        let key = |inv: &Inventory| -> Vec<(String, String)> {
            inv.objects
                .iter()
                .map(|o| (inv.file_of(o).to_string(), o.id.to_string()))
                .collect()
        };
        assert_eq!(key(&seq), key(&par));
        assert_eq!(seq.diagnostics, par.diagnostics);
        assert_eq!(par.diagnostics.len(), 9);
        assert_eq!(par.namespace("n4").map(|o| o.id.name.as_str()), Some("n4"));
    }

    #[test]
    fn walks_directories_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
        std::fs::write(
            dir.path().join("sub/a.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.json"),
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"}}",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.txt"), "apiVersion: v1\nkind: Pod\n").unwrap();
        std::fs::write(
            dir.path().join("sub/.git/x.yaml"),
            "apiVersion: v1\nkind: Pod\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.yaml"), b"apiVersion: v1\nkind: \xff\n").unwrap();
        let inv = Inventory::load_paths(
            &[dir.path().to_path_buf(), dir.path().join("nope.yaml")],
            &LoadOptions::default(),
        );
        let names: Vec<_> = inv.objects.iter().map(|o| o.id.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(inv.diagnostics.len(), 2, "{:?}", inv.diagnostics);
        assert!(
            inv.diagnostics
                .iter()
                .any(|d| d.code == DiagCode::Io && d.file.ends_with("nope.yaml"))
        );
        let utf = inv
            .diagnostics
            .iter()
            .find(|d| d.code == DiagCode::Syntax)
            .unwrap();
        assert_eq!(utf.pos.unwrap().line, 2);
    }
}
