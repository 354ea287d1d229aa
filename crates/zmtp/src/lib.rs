//! ZeroMQ wire protocol (ZMTP 3.x) over tokio: being written.
