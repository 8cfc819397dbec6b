//! `vroot generate-docs --out DIR`: the man pages and shell completions the
//! package installs, generated from the clap definitions (src/cli.rs) and
//! the config reference (src/config_reference.rs) so that they cannot drift
//! from what the binary accepts.
//!
//! DIR/man/man1/vroot.1 and vroot-SUBCOMMAND[-SUBCOMMAND].1, one per visible
//! subcommand; DIR/man/man5/vroot.toml.5; DIR/completions/vroot.bash,
//! _vroot (zsh) and vroot.fish.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Roff};

use crate::cli::Cli;
use crate::config_reference::{ConfigFile, Key, Keys, Section, SECTIONS};

/// The footer of every page: the version, and no date, so that the pages
/// come out the same on every build of one version (reproducible packages).
const SOURCE: &str = concat!("vroot ", env!("CARGO_PKG_VERSION"));
/// An empty date. `.TH` arguments are separated by spaces and clap_mangen
/// writes an empty one unquoted, which would move the source into the
/// date's place; `\&` is roff's zero-width nothing.
const NO_DATE: &str = r"\&";
const MANUAL: &str = "vroot manual";
/// The command's name, which the completions are for.
const BIN: &str = "vroot";

/// Subcommands that belong together: each page names the others of its
/// group under SEE ALSO.
const RELATED: &[&[&str]] = &[
    &["start", "stop", "restart", "status", "list"],
    &["exec", "enter", "console"],
    &["fence", "unfence", "start", "status"],
    &["storage", "install-units"],
    &["install-units", "install-agents"],
    &["overlay", "lint"],
    &["userns", "start"],
    &["spec", "start"],
];

pub fn generate(out: &Path) -> Result<ExitCode> {
    for written in write_all(out)? {
        println!("{}", written.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every page and script below `out`; returns their paths.
fn write_all(out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man1 = out.join("man/man1");
    for (file, page) in command_pages()? {
        written.push(write(&man1.join(file), page.as_bytes())?);
    }
    let man5 = out.join("man/man5");
    written.push(write(&man5.join("vroot.toml.5"), config_page().as_bytes())?);
    let completions = out.join("completions");
    for (shell, file) in [
        (Shell::Bash, "vroot.bash"),
        (Shell::Zsh, "_vroot"),
        (Shell::Fish, "vroot.fish"),
    ] {
        written.push(write(&completions.join(file), &completion(shell))?);
    }
    Ok(written)
}

fn write(path: &Path, content: &[u8]) -> Result<PathBuf> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The command as documented: built (so that every subcommand knows its
/// full name, `vroot-storage-mount`), without the `help` subcommand.
fn documented_command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Every visible subcommand, depth first, after its parent.
fn visible_commands(command: &clap::Command) -> Vec<clap::Command> {
    let mut all = vec![command.clone()];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        all.extend(visible_commands(sub));
    }
    all
}

fn page_name(command: &clap::Command) -> &str {
    command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
}

/// (file name, roff) of vroot(1) and each visible subcommand's page.
fn command_pages() -> Result<Vec<(String, String)>> {
    let root = documented_command();
    visible_commands(&root)
        .into_iter()
        .map(|command| {
            let name = page_name(&command).to_string();
            let see_also = see_also(&root, &command);
            let man = clap_mangen::Man::new(command)
                .title(name.to_uppercase())
                .section("1")
                .date(NO_DATE)
                .source(SOURCE)
                .manual(MANUAL);
            let mut page = Vec::new();
            man.render(&mut page)
                .with_context(|| format!("cannot render {name}(1)"))?;
            page.extend_from_slice(see_also.to_roff().as_bytes());
            let page = String::from_utf8(page).context("clap_mangen wrote non-UTF-8")?;
            Ok((format!("{name}.1"), page))
        })
        .collect()
}

/// The pages a reader of `command`'s page goes on to: its parents and
/// siblings, the related top-level commands and the config file. Its own
/// subcommands are listed under SUBCOMMANDS already.
fn see_also(root: &clap::Command, command: &clap::Command) -> Roff {
    let name = page_name(command);
    let mut pages: Vec<String> = Vec::new();
    let mut add = |page: &str| {
        if page != name && !pages.iter().any(|p| p == page) {
            pages.push(page.to_string());
        }
    };
    // The command's path below `vroot`: ["storage", "mount"].
    let path: Vec<&str> = command
        .get_bin_name()
        .unwrap_or_default()
        .split(' ')
        .skip(1)
        .collect();
    let root_name = page_name(root);
    add(root_name);
    if let Some((_, parents)) = path.split_last() {
        let mut parent = root;
        let mut parent_page = root_name.to_string();
        for step in parents {
            parent_page = format!("{parent_page}-{step}");
            add(&parent_page);
            match parent.find_subcommand(step) {
                Some(next) => parent = next,
                None => break,
            }
        }
        // Nested siblings (vroot-storage-mount: vroot-storage-umount …);
        // top-level ones come from RELATED instead of all twenty.
        if !parents.is_empty() {
            for sibling in parent.get_subcommands().filter(|s| !s.is_hide_set()) {
                add(page_name(sibling));
            }
        }
    }
    if let [top] = path.as_slice() {
        for group in RELATED.iter().filter(|group| group.contains(top)) {
            for related in *group {
                add(&format!("{root_name}-{related}"));
            }
        }
    }

    let mut references: Vec<(String, &str)> = pages.into_iter().map(|p| (p, "1")).collect();
    references.push(("vroot.toml".to_string(), "5"));
    let mut roff = Roff::new();
    see_also_section(&mut roff, &references);
    roff
}

/// SEE ALSO: `\fBa\fR(1), \fBb\fR(5)`, page names unhyphenated (it
/// comes last on the page, so hyphenation stays off).
fn see_also_section(roff: &mut Roff, pages: &[(String, &str)]) {
    roff.control("SH", ["SEE ALSO"]);
    roff.control("nh", []);
    let mut line = Vec::new();
    for (position, (page, section)) in pages.iter().enumerate() {
        if position > 0 {
            line.push(roman(", "));
        }
        line.push(bold(page.as_str()));
        line.push(roman(format!("({section})")));
    }
    roff.text(line);
}

/// vroot.toml(5), from the config reference.
fn config_page() -> String {
    let mut roff = Roff::new();
    roff.control("TH", ["VROOT.TOML", "5", NO_DATE, SOURCE, MANUAL]);
    roff.control("SH", ["NAME"]);
    roff.text([roman(
        "vroot.toml - vroot's configuration files: a container's NAME.toml and the host's storage.toml",
    )]);
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([bold("/etc/vroot/"), italic("NAME"), bold(".toml")]);
    roff.control("br", []);
    roff.text([bold("/etc/vroot/storage.toml")]);
    roff.control("SH", ["DESCRIPTION"]);
    roff.text([roman(
        "Both files are TOML. Every key is checked before anything is made or mounted; \
         an unknown key, a wrong type or a value out of range is an error naming the file, \
         the line or key, and the fix. The directory is /etc/vroot unless VROOT_CONFIG_DIR \
         names another.",
    )]);
    roff.control("PP", []);
    roff.text([
        roman("A container's name is its config file's stem, made of letters, digits and the characters "),
        bold("- _ ."),
        roman(" only. "),
        bold("vroot spec"),
        roman(" "),
        italic("NAME"),
        roman(" checks a container's config without starting it."),
    ]);
    roff.control("PP", []);
    roff.text([roman("Each key below is shown with its type and default.")]);

    for (file, title) in [
        (
            ConfigFile::Container,
            "CONTAINER CONFIGURATION: /etc/vroot/NAME.toml",
        ),
        (
            ConfigFile::Storage,
            "STORAGE CONFIGURATION: /etc/vroot/storage.toml",
        ),
    ] {
        roff.control("SH", [title]);
        for section in SECTIONS.iter().filter(|section| section.file == file) {
            render_section(&mut roff, section);
        }
    }

    roff.control("SH", ["EXAMPLE"]);
    roff.control("nf", []);
    for line in EXAMPLE.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);

    roff.control("SH", ["FILES"]);
    for (path, what) in [
        ("/etc/vroot/NAME.toml", "the container NAME's configuration"),
        (
            "/etc/vroot/storage.toml",
            "the shared storage, mounted at /vz/private",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(path)]);
        roff.text([roman(what)]);
    }

    let root = documented_command();
    let mut references: Vec<(String, &str)> = vec![("vroot".to_string(), "1")];
    for top in ["start", "spec", "overlay", "storage", "userns", "fence"] {
        if let Some(sub) = root.find_subcommand(top) {
            references.push((page_name(sub).to_string(), "1"));
        }
    }
    see_also_section(&mut roff, &references);

    let mut page = Vec::new();
    roff.to_writer(&mut page)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(page).expect("the roff of UTF-8 text is UTF-8")
}

fn render_section(roff: &mut Roff, section: &Section) {
    roff.control("SS", [section.heading().as_str()]);
    roff.text([roman(section.about)]);
    match &section.keys {
        Keys::Fixed(keys) => {
            for key in *keys {
                render_key(roff, key);
            }
        }
        Keys::SameAs(table) => {
            roff.text([roman(format!("Its keys are those of [{table}] above."))]);
        }
        Keys::Any(key) => render_key(roff, key),
    }
}

fn render_key(roff: &mut Roff, key: &Key) {
    roff.control("TP", []);
    roff.text([
        bold(key.name),
        roman(" = "),
        italic(key.kind),
        roman(if key.default.starts_with("required") {
            format!(" ({})", key.default)
        } else {
            format!(" (default: {})", key.default)
        }),
    ]);
    roff.text([roman(key.meaning)]);
}

const EXAMPLE: &str = r#"# /etc/vroot/web.toml
root = "/vz/private/web"
stop_timeout = 120

[limits]
memory = "2G"
cpus = 1.5

[network]
mode = "veth"
bridge = "br0"
address = "192.0.2.11/24"
gateway = "192.0.2.1"

[[overlay.path]]
path = "/etc/myapp/node.conf"
mode = "gen"
template = "templates/myapp-node.conf"

[fence]
on_hang = "fence"

# /etc/vroot/storage.toml
[storage]
type = "nfs"
source = "192.0.2.1:/export/vz"
options = ["vers=4.2"]"#;

/// A completion script. clap_complete offers hidden subcommands too, and
/// clap cannot remove a subcommand, so the command is rebuilt without them:
/// the agents' entry points and generate-docs are not for typing.
fn completion(shell: Shell) -> Vec<u8> {
    let full = Cli::command();
    let mut command = clap::Command::new(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        command = command.about(about.clone());
    }
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN, &mut script);
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vroot-generate-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn writes_one_page_per_visible_subcommand_and_the_completions() {
        let out = scratch_dir();
        let written = write_all(&out).unwrap();
        let man1 = out.join("man/man1");
        for page in [
            "vroot.1",
            "vroot-start.1",
            "vroot-stop.1",
            "vroot-install-units.1",
            "vroot-storage.1",
            "vroot-storage-mount.1",
            "vroot-storage-umount.1",
            "vroot-storage-status.1",
            "vroot-overlay-diff.1",
            "vroot-userns-shift.1",
        ] {
            assert!(man1.join(page).is_file(), "{page}");
        }
        for hidden in [
            "vroot-fence-agent.1",
            "vroot-ocf-agent.1",
            "vroot-generate-docs.1",
        ] {
            assert!(!man1.join(hidden).exists(), "{hidden}");
        }
        assert!(!man1.join("vroot-help.1").exists());
        for file in [
            "man/man5/vroot.toml.5",
            "completions/vroot.bash",
            "completions/_vroot",
            "completions/vroot.fish",
        ] {
            assert!(out.join(file).is_file(), "{file}");
        }
        // 1 + visible subcommands pages, the config page, three scripts.
        let pages = visible_commands(&documented_command()).len();
        assert_eq!(written.len(), pages + 1 + 3);

        let start = read(&man1.join("vroot-start.1"));
        assert!(start.contains(".TH VROOT-START 1 \\& \"vroot "), "{start}");
        assert!(start.contains("returns once its init runs"), "{start}");
        assert!(start.contains("\\-\\-foreground"), "{start}");
        assert!(start.contains(".SH \"SEE ALSO\""), "{start}");
        assert!(start.contains("\\fBvroot\\-stop\\fR(1)"), "{start}");
        assert!(start.contains("\\fBvroot.toml\\fR(5)"), "{start}");

        let mount = read(&man1.join("vroot-storage-mount.1"));
        for reference in [
            "vroot",
            "vroot\\-storage",
            "vroot\\-storage\\-umount",
            "vroot\\-storage\\-status",
        ] {
            assert!(
                mount.contains(&format!("\\fB{reference}\\fR(1)")),
                "{reference}: {mount}"
            );
        }

        let bash = read(&out.join("completions/vroot.bash"));
        assert!(bash.contains("install-agents"));
        assert!(!bash.contains("fence-agent") && !bash.contains("generate-docs"));
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn the_pages_are_reproducible() {
        assert_eq!(command_pages().unwrap(), command_pages().unwrap());
        assert_eq!(config_page(), config_page());
        let root = read_page("vroot");
        assert!(
            root.contains(concat!("\"vroot ", env!("CARGO_PKG_VERSION"), "\"")),
            "{root}"
        );
    }

    fn read_page(name: &str) -> String {
        command_pages()
            .unwrap()
            .into_iter()
            .find(|(file, _)| file == &format!("{name}.1"))
            .map(|(_, page)| page)
            .unwrap()
    }

    #[test]
    fn the_completions_are_for_this_command() {
        let full = Cli::command();
        assert_eq!(full.get_name(), BIN);
        assert_eq!(full.get_version(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn related_groups_name_real_subcommands() {
        let root = documented_command();
        for name in RELATED.iter().flat_map(|group| group.iter()) {
            let sub = root.find_subcommand(name);
            assert!(sub.is_some_and(|sub| !sub.is_hide_set()), "{name}");
        }
    }

    #[test]
    fn the_example_is_a_valid_config() {
        let (container, storage) = EXAMPLE
            .split_once("# /etc/vroot/storage.toml")
            .expect("the example shows both files");
        let path = Path::new("/etc/vroot/web.toml");
        vroot_runtime::config::ContainerConfig::parse("web", path, container, "node1").unwrap();
        let path = Path::new("/etc/vroot/storage.toml");
        vroot_bootstrap::storage::StorageConfig::from_toml_str(storage, path).unwrap();
    }

    #[test]
    fn the_config_page_has_every_key() {
        let page = config_page();
        for section in SECTIONS {
            assert!(
                page.contains(&section.heading().replace('-', "\\-")),
                "{}",
                section.heading()
            );
            for key in section.fixed_keys().unwrap_or_default() {
                let name = key.name.replace('-', "\\-");
                assert!(page.contains(&format!("\\fB{name}\\fR = ")), "{}", key.name);
            }
        }
        assert!(page.contains("stop_timeout") && page.contains("userns_base"));
    }
}
