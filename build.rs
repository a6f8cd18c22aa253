//! Embeds the built-in responder bundles (`bundles/<name>/bundle.yaml`, `src/**`, and the shared
//! `bundles/_common/*`) and the Athena SQL into the binary, so `guardform` deploys them from
//! anywhere. Tests, caches and READMEs are left out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "__pycache__" || name.ends_with(".pyc") || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files(&path, base, out);
        } else {
            let relative = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, path));
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("bundles");
    println!("cargo:rerun-if-changed=bundles");
    let mut code = String::from(
        "/// Files of a bundle: (path in the zip, bytes).\npub type Files = &'static [(&'static str, &'static [u8])];\n/// Built-in bundles: (name, bundle.yaml, files).\npub static BUILTIN: &[(&str, &str, Files)] = &[\n",
    );
    let mut common = Vec::new();
    files(&root.join("_common"), &root.join("_common"), &mut common);
    common.sort();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("bundle.yaml").is_file())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for dir in names {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut sources = Vec::new();
        files(&dir.join("src"), &dir.join("src"), &mut sources);
        sources.extend(common.iter().cloned());
        sources.sort();
        let _ = writeln!(
            code,
            "    ({name:?}, include_str!({:?}), &[",
            dir.join("bundle.yaml").display().to_string()
        );
        for (relative, path) in sources {
            let _ = writeln!(
                code,
                "        ({relative:?}, include_bytes!({:?})),",
                path.display().to_string()
            );
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");
    let athena = root.join("archive-findings/athena");
    for (constant, file) in [
        ("ATHENA_TABLE", "table.sql"),
        ("ATHENA_QUERIES", "queries.sql"),
    ] {
        let path = athena.join(file);
        if path.is_file() {
            let _ = writeln!(
                code,
                "/// `bundles/archive-findings/athena/{file}`.\npub static {constant}: &str = include_str!({:?});",
                path.display().to_string()
            );
        } else {
            let _ = writeln!(
                code,
                "/// `bundles/archive-findings/athena/{file}` (missing at build time).\npub static {constant}: &str = \"\";"
            );
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("bundles.rs");
    std::fs::write(out, code).unwrap();
}
