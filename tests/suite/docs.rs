//! The documentation kept true by tests: the manual page `docs/chat.1`,
//! rendered from the command line's definition, and the links between the
//! Markdown files.

use chat::cli::Cli;
use chat::exit_codes::ExitCode;
use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Set to rewrite `docs/chat.1` from the command line instead of comparing.
const UPDATE: &str = "CHAT_UPDATE_MAN";

/// The repository's root, where README.md is.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The page checked in is the page `chat::cli` renders now, so a changed
/// option or help text cannot leave it behind.
#[test]
fn the_man_page_is_rendered_from_the_command_line() {
    let path = root().join("docs/chat.1");
    let page = man_page();
    if std::env::var_os(UPDATE).is_some() {
        fs::write(&path, &page).unwrap();
        return;
    }
    let checked_in = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == page,
        "docs/chat.1 is not what the command line renders now; rewrite it with \
         `{UPDATE}=1 cargo test --test suite docs::` and commit it"
    );
}

/// The whole manual in one page: the synopsis of every subcommand, then a
/// section per subcommand with its options and examples, as `--help` has
/// them.
fn man_page() -> String {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let man = Man::new(command.clone()).manual("User Commands");
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    writeln!(page, ".SH SYNOPSIS").unwrap();
    for (n, sub) in command.get_subcommands().enumerate() {
        if n > 0 {
            writeln!(page, ".br").unwrap();
        }
        let synopsis = section(|w| Man::new(sub.clone()).render_synopsis_section(w));
        page.extend_from_slice(synopsis.as_bytes());
    }
    page.extend_from_slice(description(&command).as_bytes());
    man.render_options_section(&mut page).unwrap();
    writeln!(page, ".SH COMMANDS").unwrap();
    for sub in command.get_subcommands() {
        page.extend_from_slice(subcommand(sub).as_bytes());
    }
    page.extend_from_slice(closing_sections().as_bytes());
    // Every rendering starts with the definition of the apostrophe; the
    // page needs it once.
    let preamble = Roff::new().render();
    let page = String::from_utf8(page).unwrap().replace(&preamble, "");
    preamble + &page
}

/// What the program is, and how its two sides meet.
fn description(command: &clap::Command) -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    if let Some(about) = command.get_about() {
        roff.text([roman(format!("{about}."))]);
    }
    roff.control("PP", []);
    roff.text([
        roman("One side runs "),
        bold("chat listen"),
        roman(", the other "),
        bold("chat connect"),
        roman(
            "; they talk and send each other files, encrypted unless both \
             give --plain. A line typed is a message; a line that starts \
             with / is a command (/help lists them).",
        ),
    ]);
    roff.render()
}

/// What one of clap_mangen's renderers writes, without its `.SH` heading.
fn section(render: impl Fn(&mut dyn Write) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    render(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let text = text.replacen(&Roff::new().render(), "", 1);
    match text.split_once('\n') {
        Some((heading, rest)) if heading.starts_with(".SH ") => rest.to_string(),
        _ => text,
    }
}

/// One subcommand: what it does, its options, then its examples.
fn subcommand(sub: &clap::Command) -> String {
    let name = sub.get_bin_name().unwrap_or(sub.get_name());
    let mut roff = Roff::new();
    roff.control("SS", [name]);
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    let man = Man::new(sub.clone());
    let mut text = roff.render();
    text.push_str(&section(|w| man.render_options_section(w)));
    if let Some(after) = sub.get_after_long_help().or(sub.get_after_help()) {
        text.push_str(&after_help(&after.to_string()));
    }
    text
}

/// A subcommand's `after_help`: its paragraphs filled, its indented lines
/// (example sessions, commands to type) kept as they are.
fn after_help(text: &str) -> String {
    let mut roff = Roff::new();
    roff.control("PP", []);
    let mut verbatim = false;
    for line in text.lines() {
        let indented = line.starts_with("  ");
        if indented != verbatim {
            match indented {
                true => roff.control("RS", ["4"]).control("nf", []),
                false => roff.control("fi", []).control("RE", []),
            };
            verbatim = indented;
        }
        match (indented, line.trim()) {
            (true, line) => roff.text([roman(line)]),
            (false, "") => roff.control("PP", []),
            // A line of its own in the help (a note, a list of commands)
            // begins with a capital; the lines that wrap a sentence do not.
            (false, line) if line.starts_with(char::is_uppercase) => {
                roff.control("br", []).text([roman(line)])
            }
            (false, line) => roff.text([roman(line)]),
        };
    }
    if verbatim {
        roff.control("fi", []).control("RE", []);
    }
    roff.render()
}

/// What the command line does not say: exit codes and where the rest is.
fn closing_sections() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (
            ExitCode::Success,
            "the chat ended normally: either side left",
        ),
        (
            ExitCode::Failure,
            "a runtime failure, said on one line on standard error \
             (or, at a terminal, by the chat's last line)",
        ),
        (ExitCode::Usage, "the command line was wrong"),
    ] {
        roff.control("TP", []);
        roff.text([bold((code as u8).to_string())]);
        roff.text([roman(meaning)]);
    }
    roff.control("PP", []);
    roff.text([roman(
        "A second SIGTERM, SIGHUP or SIGINT ends the program at once, with \
         128 and the signal's number.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        roman("In the source: "),
        italic("README.md"),
        roman(", the guides in "),
        italic("docs/"),
        roman(", and the wire protocol in "),
        italic("PROTOCOL.md"),
        roman("."),
    ]);
    roff.render()
}

/// Every relative link in the Markdown files leads to a file that is
/// there, and a `#section` to one of its headings, as GitHub names them.
#[test]
fn the_links_between_the_documents_lead_somewhere() {
    let mut documents = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("PROTOCOL.md"),
    ];
    for entry in fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut broken = Vec::new();
    for document in &documents {
        let text = fs::read_to_string(document).unwrap();
        for target in links(&text) {
            if target.contains("://") {
                continue;
            }
            let (path, section) = target.split_once('#').unwrap_or((&target, ""));
            let file = match path {
                "" => document.clone(),
                path => document.parent().unwrap().join(path),
            };
            let found = match (file.exists(), section) {
                (false, _) => false,
                (true, "") => true,
                (true, section) => fs::read_to_string(&file)
                    .is_ok_and(|text| headings(&text).any(|h| h == section)),
            };
            if !found {
                broken.push(format!("{}: {target}", document.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n{}",
        broken.join("\n")
    );
}

/// The lines of a Markdown text outside its fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of the inline links `[text](target)` in a Markdown text.
fn links(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    targets
}

/// The anchors GitHub gives a Markdown text's headings: lower case, spaces
/// as hyphens, punctuation other than hyphens and underscores left out.
fn headings(text: &str) -> impl Iterator<Item = String> + '_ {
    prose(text)
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
}
