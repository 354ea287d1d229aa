//! Replicated in-memory key/value table on the Dendrite ring: being written.
