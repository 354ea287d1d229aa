//! Compiles `proto/dtable.proto` with a pure-Rust protobuf compiler (protox), so no system
//! `protoc` is needed. The ring's types (package `dendrite`) are not generated again: they map to
//! `dendrite::proto`, so a `Vnode` on a dtable message is the very type the ring codec uses.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let file = root.join("dtable.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("chord.proto").display()
    );
    let descriptors = protox::compile([&file], [&root])?;
    prost_build::Config::new()
        .bytes(["."])
        .extern_path(".dendrite", "::dendrite::proto")
        .compile_fds(descriptors)?;
    Ok(())
}
