//! Output shared by subcommands: JSON lines for machines, a progress bar and text for people.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Where progress goes: JSON lines on stdout, or a progress bar on stderr.
pub enum Reporter {
    Json,
    Human(ProgressBar),
}

impl Reporter {
    pub fn new(json: bool, total: u64, what: &str) -> Self {
        if json {
            return Reporter::Json;
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta}) {prefix}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what.to_owned());
        Reporter::Human(bar)
    }

    /// A progress event: printed as a JSON line, or shown beside the bar.
    pub fn progress(&self, position: u64, event: &impl Serialize, text: impl FnOnce() -> String) {
        match self {
            Reporter::Json => println!("{}", json_line(event)),
            Reporter::Human(bar) => {
                bar.set_position(position);
                bar.set_prefix(text());
            }
        }
    }

    /// An event worth a line of its own: a JSON line, or a readable line printed above the bar.
    pub fn event(&self, event: &impl Serialize, text: impl FnOnce() -> String) {
        match self {
            Reporter::Json => println!("{}", json_line(event)),
            // Printed under `suspend`, not `bar.println`: that prints nothing when stderr is not
            // a terminal, and these lines are results.
            Reporter::Human(bar) => bar.suspend(|| println!("{}", text())),
        }
    }

    /// A line for people only, printed above the bar; nothing in JSON mode.
    pub fn note(&self, text: &str) {
        if let Reporter::Human(bar) = self {
            bar.suspend(|| println!("{text}"));
        }
    }

    /// Moves the bar and says where things stand beside it; nothing in JSON mode.
    pub fn position(&self, position: u64, text: impl FnOnce() -> String) {
        if let Reporter::Human(bar) = self {
            bar.set_position(position);
            bar.set_prefix(text());
        }
    }

    /// The summary: the last JSON line, or readable lines after the bar.
    pub fn summary(&self, summary: &impl Serialize, text: impl FnOnce() -> String) {
        match self {
            Reporter::Json => println!("{}", json_line(summary)),
            Reporter::Human(bar) => {
                bar.finish_and_clear();
                println!("{}", text());
            }
        }
    }
}

fn json_line(value: &impl Serialize) -> String {
    // Serialising plain structs of numbers and strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
