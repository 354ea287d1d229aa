//! The `dendrite` binary: being written.

fn main() {
    println!("dendrite: the node binary is being written; see README.md");
}
