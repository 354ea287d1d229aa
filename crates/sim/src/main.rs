//! The Dendrite simulator: being written.

fn main() {
    println!("dendrite-sim: being written");
}
