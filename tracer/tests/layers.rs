//! No import cycles, in any crate (tracer, tracer-common, tracer-ebpf, xtask, workloads; integration-test is one file):
//! data flows one way (docs/architecture.md), so no module may reach, through `use`
//! or a path, a module that reaches back to it.
//!
//! Read from the source (no compiler needed, so it covers the eBPF crate too): every
//! `crate::`, `super::`, `self::` path and every path through a child module, outside
//! `#[cfg(test)]` code, is an edge from the file it is in to the module it names. At
//! each level of the module tree the children of one module (each with everything below
//! it) and the module's own file are the nodes: an edge between two of them is a
//! dependency, and those dependencies must have no cycle. So `analysis` reaching into
//! `report` while `report` reaches into `analysis` fails, and so do two probes that call
//! each other, or a module's own file that its children use while it uses them.
//!
//! `cargo test -p tracer --test layers` (it runs with the unit tests).
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// A module: its path from the crate root (`["analysis", "syscalls"]`).
type Module = Vec<String>;

struct Crate {
    /// Each module's source (test code removed) and its children's names.
    files: BTreeMap<Module, (String, Vec<String>)>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Reads the crate whose root file is `root` (lib.rs or main.rs) and every module file
/// it declares, down the tree.
fn read_crate(root: &Path) -> Crate {
    let mut files = BTreeMap::new();
    let mut todo = vec![(Vec::new(), root.to_owned())];
    while let Some((module, path)) = todo.pop() {
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (code, children) = strip_tests(&source);
        // Children of `x.rs` or `x/mod.rs` live in `x/`; of the root, beside it.
        let dir = match path.file_name().and_then(|n| n.to_str()) {
            Some("mod.rs" | "lib.rs" | "main.rs") => path.parent().unwrap().to_owned(),
            _ => path.with_extension(""),
        };
        for child in &children {
            let file = [dir.join(format!("{child}.rs")), dir.join(child).join("mod.rs")]
                .into_iter()
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{}: no file for module {child}", path.display()));
            let mut m = module.clone();
            m.push(child.clone());
            todo.push((m, file));
        }
        files.insert(module, (code, children));
    }
    Crate { files }
}

/// The source without `#[cfg(test)]` items, and the modules it declares outside them
/// (`mod x;`; inline `mod x { }` modules are part of their file).
fn strip_tests(source: &str) -> (String, Vec<String>) {
    let mut code = String::new();
    let mut rest = source;
    while let Some(at) = rest.find("#[cfg(test)]") {
        code.push_str(&rest[..at]);
        let after = &rest[at..];
        let semi = after.find(';').unwrap_or(after.len());
        let open = after.find('{').unwrap_or(after.len());
        rest = if semi < open { &after[semi + 1..] } else { &after[matching_brace(after, open) + 1..] };
    }
    code.push_str(rest);
    let code = strip_comments(&code);
    let children = code
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").or_else(|| l.strip_prefix("pub(crate) ")).unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect();
    (code, children)
}

fn matching_brace(s: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    s.len() - 1
}

/// Line comments and string literals out (a doc comment's `crate::x` is no edge).
fn strip_comments(code: &str) -> String {
    let mut out = String::new();
    for line in code.lines() {
        let mut kept = String::new();
        let mut in_str = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if in_str => {
                    chars.next();
                }
                '"' => in_str = !in_str,
                '/' if !in_str && chars.peek() == Some(&'/') => break,
                _ if in_str => {}
                _ => kept.push(c),
            }
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every path the code names: `use` trees expanded, then each path as written.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    // `use a::{b, c::{d}};` -> a::b, a::c::d.
    while let Some(at) = find_word(rest, "use") {
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        expand(&rest[at + 3..end], &mut Vec::new(), &mut out);
        rest = &rest[end..];
    }
    // Paths in code: `word::word::...`.
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (bytes[i].is_alphabetic() || bytes[i] == '_')
            && (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let s = j;
            while j < bytes.len() && (bytes[j].is_alphanumeric() || bytes[j] == '_') {
                j += 1;
            }
            segs.push(bytes[s..j].iter().collect::<String>());
            if j + 2 < bytes.len()
                && bytes[j] == ':'
                && bytes[j + 1] == ':'
                && (bytes[j + 2].is_alphabetic() || bytes[j + 2] == '_')
            {
                j += 2;
            } else {
                break;
            }
        }
        if segs.len() > 1 {
            out.push(segs);
        }
        i = j.max(i + 1);
    }
    out
}

fn find_word(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(word).map(|i| i + from) {
        let before = s[..i].chars().next_back();
        let after = s[i + word.len()..].chars().next();
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.is_some_and(char::is_whitespace) {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

/// Expands one use tree under `prefix`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> =
            tree[..open].split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        let close = matching_brace(tree, open);
        let n = prefix.len();
        prefix.extend(head);
        for part in split_top(&tree[open + 1..close]) {
            expand(part, prefix, out);
        }
        prefix.truncate(n);
    } else {
        let path = tree.split(" as ").next().unwrap_or("");
        let mut full = prefix.clone();
        full.extend(path.split("::").map(str::trim).filter(|s| !s.is_empty() && *s != "*").map(str::to_owned));
        if full.last().is_some_and(|s| s == "self") {
            full.pop();
        }
        if !full.is_empty() {
            out.push(full);
        }
    }
}

/// Splits `a, b::{c, d}, e` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

impl Crate {
    /// The module a path written in `from` names: the deepest module file on it, or None
    /// for a path outside the crate (std, another crate, a local item).
    fn resolve(&self, from: &Module, path: &[String]) -> Option<Module> {
        let mut base: Module;
        let mut segs = path;
        match path.first().map(String::as_str) {
            Some("crate") => {
                base = Vec::new();
                segs = &path[1..];
            }
            Some("self") => {
                base = from.clone();
                segs = &path[1..];
            }
            Some("super") => {
                base = from.clone();
                while segs.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    segs = &segs[1..];
                }
            }
            // A child of this module, named relatively.
            Some(first) if self.files[from].1.iter().any(|c| c == first) => base = from.clone(),
            _ => return None,
        }
        for s in segs {
            let mut next = base.clone();
            next.push(s.clone());
            if !self.files.contains_key(&next) {
                break;
            }
            base = next;
        }
        Some(base)
    }

    /// Edges between modules: (from, to), each once.
    fn edges(&self) -> BTreeSet<(Module, Module)> {
        let mut edges = BTreeSet::new();
        for (module, (code, _)) in &self.files {
            for path in paths(code) {
                if let Some(to) = self.resolve(module, &path)
                    && to != *module
                {
                    edges.insert((module.clone(), to));
                }
            }
        }
        edges
    }

    /// Every cycle among the children of one module (and the module's own file, `.`):
    /// empty when the crate is layered.
    fn cycles(&self) -> Vec<String> {
        let edges = self.edges();
        let mut found = Vec::new();
        for parent in self.files.keys() {
            // At this level: which node (a child's subtree, or the parent's own file) a
            // module belongs to.
            let node = |m: &Module| -> Option<String> {
                if m == parent {
                    return Some(".".into());
                }
                (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone())
            };
            let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut why: BTreeMap<(String, String), (Module, Module)> = BTreeMap::new();
            for (from, to) in &edges {
                if let (Some(a), Some(b)) = (node(from), node(to))
                    && a != b
                {
                    graph.entry(a.clone()).or_default().insert(b.clone());
                    why.entry((a, b)).or_insert_with(|| (from.clone(), to.clone()));
                }
            }
            if let Some(cycle) = find_cycle(&graph) {
                let shown: Vec<String> = cycle
                    .windows(2)
                    .map(|w| {
                        let (f, t) = &why[&(w[0].clone(), w[1].clone())];
                        format!("{} -> {}", f.join("::"), t.join("::"))
                    })
                    .collect();
                found.push(format!(
                    "in {}: {}",
                    if parent.is_empty() { "crate" } else { "" }.to_owned() + &parent.join("::"),
                    shown.join(", ")
                ));
            }
        }
        found
    }
}

/// A cycle of `graph` as its nodes, the first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn check(root: &str) {
    let krate = read_crate(&workspace().join(root));
    assert!(krate.files.len() > 5, "{root}: {} modules read", krate.files.len());
    let cycles = krate.cycles();
    assert!(cycles.is_empty(), "{root} has import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn tracer_has_no_import_cycles() {
    check("tracer/src/lib.rs");
}

#[test]
fn tracer_common_has_no_import_cycles() {
    check("tracer-common/src/lib.rs");
}

#[test]
fn tracer_ebpf_has_no_import_cycles() {
    check("tracer-ebpf/src/main.rs");
}

#[test]
fn xtask_has_no_import_cycles() {
    check("xtask/src/main.rs");
}

#[test]
fn workloads_have_no_import_cycles() {
    check("workloads/src/lib.rs");
}

/// The checker finds a cycle where there is one: modules that name each other round.
#[test]
fn a_cycle_is_found() {
    let krate = |sources: &[(&str, &str)]| Crate {
        files: sources
            .iter()
            .map(|(m, s)| (m.split("::").filter(|x| !x.is_empty()).map(str::to_owned).collect(), strip_tests(s)))
            .collect(),
    };
    let mut sources = vec![
        ("", "mod a;\nmod b;\nmod c;\n"),
        ("a", "use crate::b::{x, y::{z}};\n"),
        ("b", "fn f() { super::c::g(); }\n"),
        ("c", "use crate::{a::A};\n// crate::b::nothing\n"),
    ];
    let cycles = krate(&sources).cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].contains("a -> b") && cycles[0].contains("c -> a"), "{cycles:?}");
    // c's edge back to a only in test code: none.
    sources[3] = ("c", "#[cfg(test)]\nmod tests { use crate::a::A; }\n");
    assert!(krate(&sources).cycles().is_empty());
}
