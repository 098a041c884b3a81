//! `lightbox sweep`: the objects of the cluster's bucket that no index entry names (uploads
//! whose node died before indexing them) found and deleted, and index entries without an
//! object counted. Run in the foreground, from any node, whenever convenient: it reads the
//! whole index and lists the whole bucket once.

use anyhow::{bail, Result};
use clap::Args;
use lightbox_core::store::{Store, StoreError, SweepOptions, SWEEP_GRACE};
use std::time::Duration;

#[derive(Args)]
pub struct SweepArgs {
    /// Leave unindexed objects younger than this (an upload about to be indexed looks like an
    /// orphan): 90s, 30m, 2h, 0 [default: 1h]
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    older_than: Option<Duration>,
    /// Count the orphans, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

/// `90s`, `30m`, `2h`, `1d` or a number of seconds.
fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: a number and s, m, h or d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

pub fn run(store: &Store, args: SweepArgs) -> Result<()> {
    let options = SweepOptions {
        grace: args.older_than.unwrap_or(SWEEP_GRACE),
        delete: !args.dry_run,
    };
    let report = match store.sweep_objects(options) {
        Err(StoreError::NotInObjectStore) => {
            bail!("nothing to sweep: the managed files are in the data directory (--store s3://… names a bucket)")
        }
        other => other?,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} objects, {} indexed; {} orphans ({} MB){}; {} unindexed but newer than {} s, left",
        report.objects,
        report.indexed,
        report.orphans,
        report.orphan_bytes / 1_000_000,
        if options.delete {
            format!(", {} deleted", report.deleted)
        } else {
            " (dry run: none deleted)".into()
        },
        report.recent,
        options.grace.as_secs()
    );
    if report.missing > 0 {
        println!(
            "{} index entries have no object, among them: {}",
            report.missing,
            report.missing_examples.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert!(parse_age("1w").is_err());
        assert!(parse_age("h").is_err());
    }
}
