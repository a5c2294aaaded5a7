#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Turn raw files into a prepared dataset folder.
    Prepare,
    /// Print what a file or prepared dataset holds.
    Info,
}

pub fn run(_cmd: DataCommand) -> anyhow::Result<()> {
    anyhow::bail!("'data' is not built yet")
}
