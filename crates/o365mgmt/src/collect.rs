//! `o365mgmt collect` and `o365mgmt collect status`.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use o365_actions::input;
use o365_api::ContentType;
use o365_collect::{Collector, Next, PassHook, PassLoop, SinkSpec, Stop, Summary, Turn};

use crate::cli::{CollectArgs, CollectCmd, Global, Output};
use crate::pass::{self_usage, sink_spec};
use crate::setup::settings;
use crate::term::{out, warn};

/// Run `collect`.
pub async fn run(g: &Global, args: &CollectArgs, fmt: Output) -> anyhow::Result<ExitCode> {
    run_into(g, args, fmt, None, None).await
}

/// Work after each pass (the alerts' delivery), run on a blocking thread; an error is reported
/// and fails the exit status, and the next pass goes on.
pub type AfterPass = Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

/// Run `collect`, into `sink` when given instead of `--sink` (the alerts), with `after` run
/// after each pass.
pub async fn run_into(
    g: &Global,
    args: &CollectArgs,
    fmt: Output,
    sink: Option<SinkSpec>,
    after: Option<AfterPass>,
) -> anyhow::Result<ExitCode> {
    if args.all_tenants && args.command.is_none() {
        return crate::serve::collect_all(g, args, fmt).await;
    }
    let s = settings(g)?;
    for w in &s.warnings {
        warn(w);
    }
    match &args.command {
        Some(CollectCmd::Status { sink }) => {
            return crate::progress::status(&s, sink.as_deref(), fmt);
        }
        Some(CollectCmd::Upgrade { sink }) => {
            return crate::upgrade::run(&s, sink.as_deref(), fmt);
        }
        None => {}
    }
    if args.pass.interval.is_some() && !args.run.follow {
        bail!("--interval sets the pause between passes of --follow: add --follow, or leave --interval out");
    }
    let (mut opts, interval) = crate::pass::options(&args.pass);
    let interval = crate::webhook::pass_interval(
        &args.webhook,
        interval,
        args.pass.interval.is_some(),
        args.run.follow,
    )?;
    crate::webhook::check(&args.webhook)?;
    let types = if args.all {
        ContentType::ALL.to_vec()
    } else if args.types.is_empty() {
        s.content_types.value.clone()
    } else {
        input::content_types("TYPE", &args.types).map_err(|e| anyhow!("{e}"))?
    };
    opts.types = types.clone();
    // Everything that can be judged here is judged before any request (exit 2).
    let spec = match sink {
        Some(spec) => spec,
        None => sink_spec(&s, args.sink.as_deref())?,
    };
    spec.check()?;
    let store = crate::setup::open_store(&s)?;
    let client = s.client().map_err(|e| anyhow!("{e}"))?;
    let Some(tenant) = crate::progress::tenant_key(&s, &client, &spec, &store, "collect").await?
    else {
        return Ok(ExitCode::from(3));
    };
    crate::pass::remember_sink(&store, &tenant, &spec);
    // Summaries go to stderr when the events go to stdout.
    let summary_to_stderr = spec.writes_stdout();
    let collector = Collector::new(client.clone(), tenant.clone(), spec.clone(), opts)
        .with_ledger(store.clone());
    // Where collection begins is fixed now, before any request: a run that fails at once
    // (the service unreachable) leaves it, and the next run begins there, not later.
    collector.fix_start().await?;
    if let Some(addr) = args.metrics_addr {
        if !addr.ip().is_loopback() {
            warn(&format!(
                "--metrics-addr {addr} is beyond loopback: every host that can reach it reads the metrics (tenant ids, volumes, errors) without authentication; bind 127.0.0.1 unless a proxy in front authenticates"
            ));
        }
        let bound = o365_collect::metrics::serve(addr, collector.metrics(), client.clone())
            .await
            .with_context(|| format!("--metrics-addr {addr}"))?;
        crate::term::note(&format!("metrics at http://{bound}/metrics"));
    }
    let hooks = crate::webhook::start(&args.webhook, collector.metrics()).await?;
    let stop = Stop::default();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::term::shutdown_signal().await;
            stop.stop();
        });
    }
    let mut shown = Shown {
        first: true,
        warned: vec![],
        code: ExitCode::SUCCESS,
        spec: &spec,
        fmt,
        summary_to_stderr,
        progress: progress_bar(&collector, &stop),
        after,
    };
    PassLoop::new(&s, &collector, types)
        .with_store(Some(store.clone()))
        .auto_start(args.auto_start)
        .with_webhook(hooks, false)
        .follow(args.run.follow.then_some(interval))
        .run(&mut shown, &stop)
        .await;
    if let Some(p) = &shown.progress {
        p.finish_and_clear();
    }
    Ok(shown.code)
}

/// What `collect` shows of each turn of its loop, and its exit status.
struct Shown<'a> {
    /// Before the first turn.
    first: bool,
    /// The pre-flight's warnings last shown (shown again only when they change).
    warned: Vec<String>,
    code: ExitCode,
    spec: &'a SinkSpec,
    fmt: Output,
    summary_to_stderr: bool,
    progress: Option<indicatif::ProgressBar>,
    after: Option<AfterPass>,
}

impl Shown<'_> {
    /// A warning, above the progress bar when there is one.
    fn warn(&self, message: &str) {
        match &self.progress {
            Some(p) => p.suspend(|| warn(message)),
            None => warn(message),
        }
    }

    fn warnings(&mut self, warnings: &[String]) {
        if warnings != self.warned.as_slice() {
            warnings.iter().for_each(|w| self.warn(w));
            self.warned = warnings.to_vec();
        }
    }
}

impl PassHook for Shown<'_> {
    async fn turn(&mut self, turn: Turn<'_>) -> Next {
        let first = std::mem::replace(&mut self.first, false);
        match turn {
            // Nothing can be collected: at once, exit 3 (the service or the sign-in); later in
            // `--follow`, the next pass tries again.
            Turn::Refused(f) => {
                self.warn(&format!("cannot collect: {}", f.message));
                self.warn(&format!("fix: {}", f.fix));
                if first {
                    self.code = ExitCode::from(3);
                    return Next::Stop;
                }
                self.code = ExitCode::from(1);
                Next::Go
            }
            Turn::Failed { error, warnings } => {
                self.warnings(warnings);
                self.warn(&format!("collection stopped: {error}"));
                self.code = ExitCode::from(1);
                Next::Stop
            }
            Turn::Passed { summary, warnings } => {
                self.warnings(warnings);
                if !summary.ok() {
                    self.code = ExitCode::from(1);
                }
                let (spec, fmt, to_stderr) = (self.spec, self.fmt, self.summary_to_stderr);
                match &self.progress {
                    Some(p) => p.suspend(|| report(summary, spec, fmt, to_stderr)),
                    None => report(summary, spec, fmt, to_stderr),
                }
                if let Some(after) = &self.after {
                    let after = after.clone();
                    let done = tokio::task::spawn_blocking(move || after())
                        .await
                        .map_err(|e| anyhow!("{e}"))
                        .and_then(|r| r);
                    if let Err(e) = done {
                        self.warn(&format!("{e:#}"));
                        self.code = ExitCode::from(1);
                    }
                }
                Next::Go
            }
        }
    }
}

fn progress_bar(c: &Collector, stop: &Stop) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let m = c.metrics();
    let client = c.client().clone();
    let (pb2, stop) = (pb.clone(), stop.clone());
    tokio::spawn(async move {
        let t0 = std::time::Instant::now();
        while !pb2.is_finished() {
            let ev = m.events_written.load(Ordering::Relaxed);
            let rate = ev as f64 / t0.elapsed().as_secs_f64().max(0.001);
            pb2.set_message(format!(
                "blobs {}  events {}  ({:.0}/s)  duplicates {}  requests {}{}",
                m.blobs_done.load(Ordering::Relaxed),
                ev,
                rate,
                m.duplicates.load(Ordering::Relaxed),
                client.requests_made(),
                if stop.is_stopped() {
                    "  stopping..."
                } else {
                    ""
                }
            ));
            pb2.tick();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    Some(pb)
}

#[allow(clippy::print_stderr)]
fn report(s: &Summary, spec: &SinkSpec, fmt: Output, to_stderr: bool) {
    let (cpu, rss) = self_usage();
    let text = match fmt {
        Output::Json => {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["sink"] = serde_json::json!(spec.name());
            v["cpu_seconds"] = serde_json::json!(cpu);
            v["peak_rss_bytes"] = serde_json::json!(rss);
            format!("{v}\n")
        }
        Output::Text => {
            let mut t = format!(
                "Collected {} events ({} duplicates dropped) from {} blobs in {:.1} s ({:.0} events/s) into {}{}\n",
                s.events_written,
                s.duplicates,
                s.blobs_done,
                s.seconds,
                s.events_per_second,
                spec.name(),
                if s.interrupted { " — interrupted, progress saved" } else { "" }
            );
            for ty in &s.types {
                t.push_str(&format!(
                    "  {:<28} blobs {:>6} (skipped {}, lost {})  events {:>8}  duplicates {:>6}  cursor {}\n",
                    ty.content_type,
                    ty.blobs_done,
                    ty.blobs_skipped,
                    ty.blobs_lost,
                    ty.events_written,
                    ty.duplicates,
                    ty.cursor.map(o365_actions::stamp).unwrap_or_else(|| "-".into())
                ));
                for (a, b) in &ty.gaps {
                    t.push_str(&format!(
                        "    gap (older than 7 days, cannot be listed): [{}, {})\n",
                        o365_actions::stamp(*a),
                        o365_actions::stamp(*b)
                    ));
                }
                for e in &ty.errors {
                    t.push_str(&format!("    error: {e}\n"));
                }
            }
            t.push_str(&format!(
                "requests {} (retries {}, throttled {}), token requests {}\n",
                s.requests, s.retries, s.throttled, s.token_requests
            ));
            t
        }
    };
    if to_stderr {
        eprint!("{text}");
    } else {
        out(&text);
    }
}
