//! A one-shot, cloneable "stop now" signal shared by the servers.
//!
//! Built on a `watch` channel so any number of accept loops and connection
//! tasks can wait on it. Dropping the [`ShutdownTrigger`] counts as triggering
//! it: when the owner of the servers goes away, the servers stop too.

use tokio::sync::watch;

/// Fires the shutdown; held by whoever owns the servers.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Waited on by servers and connections; clone one per task.
#[derive(Debug, Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

/// A fresh trigger and the signal it fires.
pub fn shutdown_channel() -> (ShutdownTrigger, ShutdownSignal) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger(sender), ShutdownSignal(receiver))
}

impl ShutdownTrigger {
    /// Asks every server and connection holding a signal to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl ShutdownSignal {
    /// Resolves once shutdown was triggered (or the trigger was dropped);
    /// resolves immediately on every later call.
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which also means "stop".
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown has already been triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_every_clone() {
        let (trigger, signal) = shutdown_channel();
        let mut first = signal.clone();
        let mut second = signal;
        assert!(!first.is_triggered());
        trigger.trigger();
        first.wait().await;
        second.wait().await;
        assert!(second.is_triggered());
    }

    #[tokio::test]
    async fn dropping_the_trigger_stops() {
        let (trigger, mut signal) = shutdown_channel();
        drop(trigger);
        signal.wait().await;
        assert!(signal.is_triggered());
    }
}
