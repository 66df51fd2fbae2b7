//! Writes the bench data (`posts.json`, `timeline.json`) into the folder given (default
//! `target/perf/data`), for reading or for other tools.

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/perf/data").into());
    std::fs::create_dir_all(&dir)?;
    for (name, text) in [
        ("posts.json", perf::data::posts()),
        ("timeline.json", perf::data::timeline()),
    ] {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, &text)?;
        println!("{}: {} bytes", path.display(), text.len());
    }
    Ok(())
}
