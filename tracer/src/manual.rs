//! What a package installs beside the binary, generated from the command line itself so
//! it never disagrees with `--help`: a manual page per subcommand and shell completions.
use std::{fs, io::Write, path::Path};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> Result<()> {
    clap_complete::generate(shell, &mut Cli::command(), "tracer", out);
    Ok(())
}

/// tracer.1 and one page per visible subcommand (tracer-attach.1, ...) in `dir`; how many.
pub fn manpages(dir: &Path) -> Result<usize> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut root = Cli::command();
    root.build();
    let mut pages = vec![("tracer".to_owned(), root.clone())];
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("tracer-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, command) in &pages {
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(pages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_visible_subcommand_naming_its_flags() {
        let dir = std::env::temp_dir().join(format!("tracer-man-{}", std::process::id()));
        let n = manpages(&dir).unwrap();
        let attach = fs::read_to_string(dir.join("tracer-attach.1")).unwrap();
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(n, names.len());
        assert!(names.iter().any(|n| n == "tracer-report.1"), "{names:?}");
        assert!(!names.iter().any(|n| n == "tracer-manpages.1"), "the packagers' command is hidden: {names:?}");
        assert!(attach.contains(".TH tracer-attach"), "{attach}");
        assert!(attach.contains("\\-\\-duration"), "attach's page documents --duration: {attach}");
    }

    #[test]
    fn bash_completes_the_subcommands_and_their_flags() {
        let mut out = Vec::new();
        completions(Shell::Bash, &mut out).unwrap();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("complete -F _tracer"), "{script}");
        for word in ["attach", "record", "--duration", "--cgroup"] {
            assert!(script.contains(word), "{word} missing");
        }
    }
}
