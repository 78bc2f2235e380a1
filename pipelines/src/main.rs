//! The `docket` command line.

fn main() -> anyhow::Result<()> {
    Ok(())
}
