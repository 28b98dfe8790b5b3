//! Formatting-level rules `rustfmt` does not check, run by `cargo test`.
//!
//! Every Rust file under `crates/`, `xtask/` and `benches/` starts with module docs (`//!`),
//! and no Rust, TOML or Markdown file in the repository has trailing whitespace or tabs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;

/// Directories never checked: build output, fuzzing data, the local cluster's state, git itself.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    ".slotmux",
    "corpus",
    "artifacts",
    "node_modules",
];

/// Extensions of the text files whose whitespace is checked.
const TEXT_EXTENSIONS: &[&str] = &["rs", "toml", "md"];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with("target") {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(project_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The rule violations of one file's text: module docs (for Rust files that need them) and whitespace.
fn check_text(text: &str, needs_module_docs: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if needs_module_docs && !text.starts_with("//!") {
        problems.push("does not start with `//!` module docs".to_owned());
    }
    // `split`, not `lines`: `lines` would hide a `\r` before the newline.
    for (i, line) in text.split('\n').enumerate() {
        if line.contains('\t') {
            problems.push(format!("line {}: tab", i + 1));
        }
        if line.ends_with([' ', '\r']) {
            problems.push(format!("line {}: trailing whitespace", i + 1));
        }
    }
    problems
}

#[test]
fn source_files_are_tidy() {
    let root = project_root();
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files.sort();
    let needs_docs_roots = ["crates", "xtask", "benches"].map(|d| root.join(d));
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| has_extension(p, TEXT_EXTENSIONS)) {
        // A file another process is replacing right now may vanish between listing and reading.
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        let needs_docs =
            has_extension(path, &["rs"]) && needs_docs_roots.iter().any(|r| path.starts_with(r));
        problems.extend(
            check_text(&text, needs_docs)
                .into_iter()
                .map(|p| format!("{}: {p}", relative(path))),
        );
    }
    assert!(
        files.len() > 10,
        "found only {} files under {}",
        files.len(),
        root.display()
    );
    assert!(
        problems.is_empty(),
        "{} tidy problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn tidy_rules_catch_each_problem() {
    fn check(text: &str, needs_docs: bool, expected: &[&str]) {
        assert_eq!(check_text(text, needs_docs), expected, "{text:?}");
    }
    check("//! Docs.\nfn f() {}\n", true, &[]);
    check(
        "fn f() {}\n",
        true,
        &["does not start with `//!` module docs"],
    );
    check("fn f() {}\n", false, &[]);
    check("//! Docs. \n", true, &["line 1: trailing whitespace"]);
    check("//! Docs.\n\tx\n", true, &["line 2: tab"]);
    check("# Title\r\n", false, &["line 1: trailing whitespace"]);
}
