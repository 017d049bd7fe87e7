//! Import cycles among a crate's modules, read from its source text (`cargo xtask lint`).
//!
//! A module "depends on" another when it names it or an item in it through a `crate::`,
//! `super::` or `self::` path (a `pub use` re-export is followed to where the item lives).
//! Dependencies are judged between siblings: two modules under the same parent, each
//! standing for itself and everything below it. So `analysis` naming `report`, while
//! `report/table.rs` names `analysis`, is a cycle between `analysis` and `report`; and
//! `probes/copies.rs` and `probes/syscalls.rs` naming each other is one inside `probes`.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use crate::sh::Result;

type ModPath = Vec<String>;

/// One module file: the text that matters (comments and literals gone), and the modules
/// it declares.
struct Module {
    tokens: Vec<String>,
    children: BTreeSet<String>,
}

/// Every cycle found in the crate whose sources are in `src`, as "a -> b -> a" lines.
pub fn find(src: &Path) -> Result<Vec<String>> {
    let mut modules = BTreeMap::new();
    for root in ["lib.rs", "main.rs"].map(|r| src.join(r)).into_iter().filter(|p| p.is_file()) {
        load(&root, Vec::new(), &mut modules)?;
    }
    let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, m) in &modules {
        for path in references(from, m) {
            let to = resolve(&modules, &path, 0);
            let k = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if k < from.len() && k < to.len() {
                graphs.entry(from[..k].to_vec()).or_default().entry(from[k].clone()).or_default().insert(to[k].clone());
            }
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &graphs {
        for cycle in strongly_connected(graph).into_iter().filter(|c| c.len() > 1) {
            let at = if parent.is_empty() { "crate".to_owned() } else { parent.join("::") };
            found.push(format!("in {at}: {} -> {}", cycle.join(" -> "), cycle[0]));
        }
    }
    Ok(found)
}

/// Reads a module file and, through its `mod name;` lines, the files below it.
fn load(file: &Path, path: ModPath, modules: &mut BTreeMap<ModPath, Module>) -> Result {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let tokens = tokenize(&strip(&text));
    let children: BTreeSet<String> =
        tokens.windows(3).filter(|w| w[0] == "mod" && w[2] == ";").map(|w| w[1].clone()).collect();
    let is_dir_root = matches!(file.file_name().and_then(|n| n.to_str()), Some("mod.rs" | "lib.rs" | "main.rs"));
    let dir = if is_dir_root { file.parent().unwrap().to_path_buf() } else { file.with_extension("") };
    for child in &children {
        let (flat, nested) = (dir.join(format!("{child}.rs")), dir.join(child).join("mod.rs"));
        let found = if flat.is_file() { flat } else { nested };
        let mut p = path.clone();
        p.push(child.clone());
        if found.is_file() {
            load(&found, p, modules)?;
        }
    }
    modules.insert(path, Module { tokens, children });
    Ok(())
}

/// The absolute paths a module names through `crate::`, `super::` and `self::`, groups
/// (`crate::{a, b::c}`) expanded.
fn references(at: &ModPath, m: &Module) -> Vec<ModPath> {
    let t = &m.tokens;
    let mut out = Vec::new();
    for i in 0..t.len() {
        let anchor = matches!(t[i].as_str(), "crate" | "super" | "self");
        if anchor && t.get(i + 1).is_some_and(|x| x == "::") && (i == 0 || t[i - 1] != "::") {
            for rel in path_tree(t, i).0 {
                if let Some(abs) = absolute(at, &rel) {
                    out.push(abs);
                }
            }
        }
    }
    out
}

/// Parses `a::b::{c, d::e}` from token `i`; returns the expanded paths and the next index.
fn path_tree(t: &[String], mut i: usize) -> (Vec<ModPath>, usize) {
    let mut prefix = Vec::new();
    while i < t.len() {
        if t[i] == "{" {
            let mut all = Vec::new();
            i += 1;
            while i < t.len() && t[i] != "}" {
                let (sub, next) = path_tree(t, i);
                all.extend(sub.into_iter().map(|s| {
                    let mut p = prefix.clone();
                    p.extend(s.into_iter().filter(|x| x != "self"));
                    p
                }));
                i = next;
                if t.get(i).is_some_and(|x| x == ",") {
                    i += 1;
                } else if t.get(i).is_some_and(|x| x != "}") {
                    i += 1; // `as name` and the like
                }
            }
            return (all, i + 1);
        }
        if t[i] == "*" {
            prefix.push("*".to_owned());
            i += 1;
            break;
        }
        if is_ident(&t[i]) {
            prefix.push(t[i].clone());
            i += 1;
            if t.get(i).is_some_and(|x| x == "::") {
                i += 1;
                continue;
            }
        }
        break;
    }
    (vec![prefix], i)
}

/// `crate::a` / `super::a` / `self::a`, seen from module `at`, as a path from the root.
fn absolute(at: &ModPath, rel: &ModPath) -> Option<ModPath> {
    let mut base = at.clone();
    let mut rest = rel.as_slice();
    match rest.first()?.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        _ => {}
    }
    while rest.first().is_some_and(|x| x == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module a path lands in: its longest prefix that is a module, after following a
/// `pub use` in that module that re-exports the next name.
fn resolve(modules: &BTreeMap<ModPath, Module>, path: &ModPath, depth: u32) -> ModPath {
    let mut k = path.len();
    while k > 0 && !modules.contains_key(&path[..k]) {
        k -= 1;
    }
    let module = path[..k].to_vec();
    if let (Some(m), Some(name), true) = (modules.get(&module), path.get(k), depth < 8)
        && let Some(target) = reexport(&module, m, name)
    {
        return resolve(modules, &target, depth + 1);
    }
    module
}

/// Where `pub use ...::name` (or a glob) in module `at` takes `name` from.
fn reexport(at: &ModPath, m: &Module, name: &str) -> Option<ModPath> {
    let t = &m.tokens;
    for i in 0..t.len() {
        if t[i] != "pub" {
            continue;
        }
        let mut j = i + 1;
        if t.get(j).is_some_and(|x| x == "(") {
            while j < t.len() && t[j] != ")" {
                j += 1;
            }
            j += 1;
        }
        if t.get(j).is_none_or(|x| x != "use") {
            continue;
        }
        for rel in path_tree(t, j + 1).0 {
            let first_is_child = rel.first().is_some_and(|f| m.children.contains(f));
            let abs = if first_is_child {
                let mut p = at.clone();
                p.extend(rel.iter().cloned());
                Some(p)
            } else {
                absolute(at, &rel)
                    .filter(|_| rel.first().is_some_and(|f| matches!(f.as_str(), "crate" | "super" | "self")))
            };
            let Some(abs) = abs else { continue };
            match abs.last().map(String::as_str) {
                Some(l) if l == name => return Some(abs),
                Some("*") => return Some([&abs[..abs.len() - 1], &[name.to_owned()]].concat()),
                _ => {}
            }
        }
    }
    None
}

/// Tarjan's strongly connected components, each in a stable order.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                s.low.insert(v, s.low[v].min(lw));
            } else if s.on_stack.contains(w.as_str()) {
                let iw = s.index[w.as_str()];
                s.low.insert(v, s.low[v].min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut c = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                c.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            c.reverse();
            s.out.push(c);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The text without comments, string and char literals (a path in a doc comment or a
/// message is not a dependency).
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            (b'r', Some(b'#' | b'"')) if i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                i += 2 + hashes;
                while i < b.len() && !b[i..].starts_with(&close) {
                    i += 1;
                }
                i += close.len();
                out.push_str("\"\"");
            }
            (b'"', _) => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            (b'\'', _) => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the first closes.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..].iter().position(|&c| c == b'\'').map(|p| i + 2 + p)
                } else {
                    let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 1 + len)
                };
                match end {
                    Some(e) => i = e + 1,
                    None => i += 1,
                }
                out.push(' ');
            }
            (c, _) => {
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                if c.is_ascii() {
                    out.push(c as char);
                } else {
                    out.push(' ');
                }
                i += len;
            }
        }
    }
    out
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            out.push(text[i..end].to_owned());
        } else if c == ':' && chars.peek().is_some_and(|&(_, d)| d == ':') {
            chars.next();
            out.push("::".into());
        } else if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;

    fn tree(files: &[(&str, &str)]) -> (PathBuf, Vec<String>) {
        let dir = std::env::temp_dir().join(format!("xtask-cycles-{}-{}", std::process::id(), files.len()));
        let _ = fs::remove_dir_all(&dir);
        for (name, text) in files {
            let p = dir.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        let found = find(&dir).unwrap();
        (dir, found)
    }

    #[test]
    fn a_cycle_through_a_child_module_is_found_at_the_top() {
        // analysis -> report, report/table -> analysis: the issue's own example.
        let (dir, found) = tree(&[
            ("lib.rs", "pub mod analysis;\npub mod report;\n"),
            ("analysis.rs", "use crate::report::Report;\npub fn q() {}\n"),
            ("report/mod.rs", "mod table;\npub struct Report;\n"),
            ("report/table.rs", "use crate::analysis::q; // crate::nothing in a comment\n"),
        ]);
        assert_eq!(found, vec!["in crate: analysis -> report -> analysis"], "{}", dir.display());
    }

    #[test]
    fn siblings_naming_each_other_through_super_and_a_reexport() {
        let (_, found) = tree(&[
            ("main.rs", "mod probes;\nmod maps;\n"),
            ("maps.rs", "pub static M: u32 = 0;\n"),
            ("probes/mod.rs", "mod copies;\nmod syscalls;\npub use copies::record;\n"),
            ("probes/copies.rs", "use super::syscalls::is_error;\npub fn record() {}\n"),
            ("probes/syscalls.rs", "use crate::maps::M;\nfn f() { super::record(); }\npub fn is_error() {}\n"),
        ]);
        assert_eq!(found, vec!["in probes: copies -> syscalls -> copies"]);
    }

    #[test]
    fn one_way_flow_with_groups_strings_and_lifetimes_is_clean() {
        let (_, found) = tree(&[
            ("lib.rs", "pub mod decode;\npub mod analysis;\npub mod render;\n"),
            ("decode.rs", "pub struct R<'a>(&'a str);\nconst S: &str = \"crate::render\";\nconst C: char = '\\'';\n"),
            ("analysis.rs", "use crate::{decode::{self, R}};\nfn f(_: R<'_>) { let _ = r#\"super::render\"#; }\n"),
            ("render/mod.rs", "mod table;\n"),
            ("render/table.rs", "use crate::analysis as a;\nuse super::super::decode;\n"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }
}
