//! sendmail's command line, parsed as sendmail 8 and Postfix do (getopt style: `-ti`,
//! `-fADDR` or `-f ADDR`, options anywhere before `--`). Pure: no I/O.

use std::path::PathBuf;

/// What the invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-bm` (the default): read a message from stdin and send it.
    Deliver,
    /// `-bs`: speak SMTP on stdin/stdout.
    Smtp,
    /// `-bp`, or invoked as `mailq`: list the queue.
    ListQueue,
    /// `-q`: deliver the queue now.
    Flush,
    /// `-bi`, or invoked as `newaliases`: check the aliases file.
    Newaliases,
    /// `-bv`: say what each recipient resolves to, sending nothing.
    Verify,
    /// `-bt`: print the route each address (arguments, else lines of stdin) takes.
    Test,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// What to do.
    pub mode: Mode,
    /// `-t`: recipients from To:, Cc: and Bcc:.
    pub from_headers: bool,
    /// `-i` / `-oi`: a line with a single dot does not end the message.
    pub ignore_dots: bool,
    /// `-f ADDR` / `-r ADDR`: the envelope sender (`<>` or empty for the null sender).
    pub sender: Option<String>,
    /// `-F NAME`: the full name for a From: line that carrier adds.
    pub full_name: Option<String>,
    /// `-v`: report what happened.
    pub verbose: bool,
    /// `-B 8BITMIME`: the body is declared 8-bit.
    pub body_8bit: bool,
    /// `-C FILE`: the configuration file (sendmail's alternate sendmail.cf).
    pub config: Option<PathBuf>,
    /// Recipients given as arguments (each may hold a comma-separated list).
    pub recipients: Vec<String>,
    /// Options that were accepted but have no effect, for a note on stderr.
    pub ignored: Vec<String>,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            mode: Mode::Deliver,
            from_headers: false,
            ignore_dots: false,
            sender: None,
            full_name: None,
            verbose: false,
            body_8bit: false,
            config: None,
            recipients: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

/// Flags that take a value, in the same word or the next one.
const WITH_VALUE: &str = "fFrBCNRVLXhp";

/// Parses the arguments after the program name; `Err` is a usage message.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            out.recipients.extend(it.by_ref());
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            out.recipients.push(arg);
            continue;
        };
        for (i, c) in flags.char_indices() {
            let rest = &flags[i + c.len_utf8()..];
            match c {
                't' => out.from_headers = true,
                'i' => out.ignore_dots = true,
                'v' => out.verbose = true,
                // -m (me too) and -n (no aliasing) are historic and harmless; -U marks an
                // initial user submission, which every local submission is here.
                'm' | 'n' | 'U' => out.ignored.push(format!("-{c}")),
                // -e<x>: how to report errors (mail, print, quiet, write, exit); errors are
                // always printed and set the exit status.
                'e' => {
                    out.ignored.push(format!("-e{rest}"));
                    break;
                }
                'b' => {
                    out.mode = mode(rest)?;
                    break;
                }
                'q' => {
                    // -q, -q30m (an interval), -qIid...: all mean "run the queue now" here.
                    out.mode = Mode::Flush;
                    if !rest.is_empty() {
                        out.ignored.push(format!("-q{rest}"));
                    }
                    break;
                }
                'o' => {
                    option(&mut out, rest, &mut it)?;
                    break;
                }
                // -O Option=value (the value may be the next word, as scripts write it), -d...
                'O' if rest.is_empty() => {
                    let value = it.next().ok_or("option -O needs Option=value")?;
                    out.ignored.push(format!("-O {value}"));
                    break;
                }
                'O' | 'd' => {
                    out.ignored.push(format!("-{c}{rest}"));
                    break;
                }
                c if WITH_VALUE.contains(c) => {
                    let value = if rest.is_empty() {
                        it.next().ok_or_else(|| format!("option -{c} needs a value"))?
                    } else {
                        rest.to_string()
                    };
                    value_flag(&mut out, c, value);
                    break;
                }
                other => return Err(format!("unknown option -{other}")),
            }
        }
    }
    Ok(out)
}

fn mode(letter: &str) -> Result<Mode, String> {
    match letter {
        "m" => Ok(Mode::Deliver),
        "s" => Ok(Mode::Smtp),
        "p" => Ok(Mode::ListQueue),
        "i" => Ok(Mode::Newaliases),
        "v" => Ok(Mode::Verify),
        "t" => Ok(Mode::Test),
        "d" | "D" => Err("-bd: carrier's daemon is started with `carrier serve`".into()),
        "a" => Err("-ba (ARPANET mode) is not supported; for SMTP on standard input use -bs".into()),
        other => Err(format!("-b{other} is not supported (carrier knows -bm, -bs, -bp, -bi, -bv and -bt)")),
    }
}

/// `-oX...`: only `-oi` means something; `-o X` with a separate value is tolerated.
fn option(out: &mut Args, rest: &str, it: &mut impl Iterator<Item = String>) -> Result<(), String> {
    match rest {
        "i" => out.ignore_dots = true,
        "" => {
            let value = it.next().ok_or("option -o needs a value")?;
            out.ignored.push(format!("-o {value}"));
        }
        other => out.ignored.push(format!("-o{other}")),
    }
    Ok(())
}

fn value_flag(out: &mut Args, flag: char, value: String) {
    match flag {
        'f' | 'r' => out.sender = Some(value),
        'F' => out.full_name = Some(value),
        'C' => out.config = Some(PathBuf::from(value)),
        'B' => {
            out.body_8bit = value.eq_ignore_ascii_case("8BITMIME");
            if !value.eq_ignore_ascii_case("8BITMIME") && !value.eq_ignore_ascii_case("7BIT") {
                out.ignored.push(format!("-B {value}"));
            }
        }
        // -N (DSN notify), -R (DSN return), -V (envelope id), -L, -X, -h, -p: accepted, no effect.
        other => out.ignored.push(format!("-{other} {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn recipients_and_the_common_flags() {
        let a = p(&["-t", "-i", "-f", "me@example.com", "-FMy Name", "bob@example.com"]).unwrap();
        assert!(a.from_headers && a.ignore_dots);
        assert_eq!(a.sender.as_deref(), Some("me@example.com"));
        assert_eq!(a.full_name.as_deref(), Some("My Name"));
        assert_eq!(a.recipients, ["bob@example.com"]);
        assert_eq!(a.mode, Mode::Deliver);
    }

    #[test]
    fn grouped_flags_and_attached_values() {
        let a = p(&["-ti", "-rbounce@example.com", "-v", "a", "b"]).unwrap();
        assert!(a.from_headers && a.ignore_dots && a.verbose);
        assert_eq!(a.sender.as_deref(), Some("bounce@example.com"));
        assert_eq!(a.recipients, ["a", "b"]);
        // -tf ADDR: a value flag ends the group and takes the next word.
        let a = p(&["-tf", "x@example.com"]).unwrap();
        assert!(a.from_headers);
        assert_eq!(a.sender.as_deref(), Some("x@example.com"));
    }

    #[test]
    fn modes() {
        assert_eq!(p(&["-bs"]).unwrap().mode, Mode::Smtp);
        assert_eq!(p(&["-bp"]).unwrap().mode, Mode::ListQueue);
        assert_eq!(p(&["-bi"]).unwrap().mode, Mode::Newaliases);
        assert_eq!(p(&["-bm", "x"]).unwrap().mode, Mode::Deliver);
        assert_eq!(p(&["-q"]).unwrap().mode, Mode::Flush);
        let a = p(&["-q30m"]).unwrap();
        assert_eq!((a.mode, a.ignored), (Mode::Flush, vec!["-q30m".to_string()]));
        assert!(p(&["-bd"]).unwrap_err().contains("carrier serve"));
        assert_eq!(p(&["-bv", "bob"]).unwrap().mode, Mode::Verify);
        assert_eq!(p(&["-bt"]).unwrap().mode, Mode::Test);
        assert!(p(&["-bx"]).unwrap_err().contains("-bv and -bt"));
    }

    #[test]
    fn options_are_ignored_with_a_note_except_oi() {
        let a =
            p(&["-oi", "-oem", "-odb", "-o", "X", "-OQueueDirectory=/x", "-B8BITMIME", "-N", "never", "r"]).unwrap();
        assert!(a.ignore_dots && a.body_8bit);
        assert_eq!(a.ignored, ["-oem", "-odb", "-o X", "-OQueueDirectory=/x", "-N never"]);
        assert_eq!(a.recipients, ["r"]);
    }

    #[test]
    fn double_dash_ends_options_and_errors_are_named() {
        let a = p(&["-i", "--", "-odd@example.com"]).unwrap();
        assert_eq!(a.recipients, ["-odd@example.com"]);
        assert_eq!(p(&["-f"]).unwrap_err(), "option -f needs a value");
        assert_eq!(p(&["-Z"]).unwrap_err(), "unknown option -Z");
        assert_eq!(p(&["-C", "/etc/x.toml"]).unwrap().config, Some(PathBuf::from("/etc/x.toml")));
    }

    /// Issue 15.9: flags scripts use. `-O Option=value` with the value in the next word took
    /// that word for a recipient; -U and -e* were unknown; -ba was refused without a hint.
    #[test]
    fn flags_scripts_use_are_understood() {
        let a = p(&["-O", "DeliveryMode=b", "-U", "-em", "-oem", "bob@example.com"]).unwrap();
        assert_eq!(a.recipients, ["bob@example.com"]);
        assert_eq!(a.ignored, ["-O DeliveryMode=b", "-U", "-em", "-oem"]);
        assert_eq!(p(&["-ODeliveryMode=b", "x@y.example"]).unwrap().recipients, ["x@y.example"]);
        assert_eq!(p(&["-O"]).unwrap_err(), "option -O needs Option=value");
        assert!(p(&["-ba"]).unwrap_err().contains("use -bs"));
    }

    #[test]
    fn a_lone_dash_is_a_recipient_like_any_word() {
        // sendmail passes "-" through as an address; it then fails address checks, not parsing.
        assert_eq!(p(&["-"]).unwrap().recipients, ["-"]);
    }
}
