//! The recorder's thread: it takes the probe's events in batches and folds
//! them into the [`Record`], holding the record's lock for at most one
//! batch; in a child process it forwards them to the parent instead.

use super::*;

/// The recorder's thread and the record it fills.
pub(crate) struct RecorderThread {
    record: Arc<Mutex<Record>>,
    shutdown: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    rx: Receiver<Event>,
    probe: Probe,
}

/// How many events the recorder applies per hold of the record's lock, so the
/// UI never waits long for it.
const BATCH: usize = 1024;

/// Where a child process's lab sends its events instead of recording
/// them: to its parent (see `lab::process`). Called with each batch.
pub type Forward = Arc<dyn Fn(Vec<Event>, u64) + Send + Sync>;

impl RecorderThread {
    pub fn spawn(
        rx: Receiver<Event>,
        probe: Probe,
        limits: Limits,
        speed: f64,
        os_name: String,
        forward: Option<Forward>,
    ) -> RecorderThread {
        let record = Arc::new(Mutex::new(Record::new(
            probe.clock().clone(),
            limits,
            speed,
        )));
        let shutdown = Arc::new(AtomicBool::new(false));
        let handle = {
            let record = record.clone();
            let shutdown = shutdown.clone();
            let rx = rx.clone();
            let probe = probe.clone();
            std::thread::Builder::new()
                .name(os_name)
                .spawn(move || match forward {
                    Some(f) => forward_loop(&rx, &f, &shutdown, &probe),
                    None => drain_loop(&rx, &record, &shutdown, &probe),
                })
                .ok()
        };
        RecorderThread {
            record,
            shutdown,
            handle,
            rx,
            probe,
        }
    }

    pub fn record(&self) -> &Arc<Mutex<Record>> {
        &self.record
    }

    /// Stop the recorder thread after it has applied every event sent so far.
    pub fn finish(&mut self) {
        self.shutdown.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            // Out of its poll's nap now rather than up to a millisecond on.
            h.thread().unpark();
            let _ = h.join();
        }
        // If the thread could not be spawned, drain here.
        let mut rec = self.record.lock();
        while let Ok(ev) = self.rx.try_recv() {
            rec.apply(ev);
        }
        rec.events_dropped = self.probe.counts().dropped.load(Ordering::Relaxed);
        let end = self.probe.now_ns() as f64 * 1e-9;
        if rec.ended_at.is_none() {
            rec.close(end);
        }
    }
}

/// How long the recorder sleeps when the channel is empty. It polls rather
/// than blocking in `recv`, so a worker's send never has to wake it: a send
/// stays a plain enqueue (a blocked receiver would cost every send a futex wake).
const POLL: Duration = Duration::from_millis(1);

/// A child's recorder: every batch goes to the parent, with the count of
/// events dropped so far.
fn forward_loop(rx: &Receiver<Event>, forward: &Forward, shutdown: &AtomicBool, probe: &Probe) {
    loop {
        let stopping = shutdown.load(Ordering::Acquire);
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        let full = batch.len() == BATCH;
        if !batch.is_empty() {
            forward(batch, probe.counts().dropped.load(Ordering::Relaxed));
        }
        if stopping && !full {
            return;
        }
        if !full {
            std::thread::sleep(POLL);
        }
    }
}

fn drain_loop(rx: &Receiver<Event>, record: &Mutex<Record>, shutdown: &AtomicBool, probe: &Probe) {
    loop {
        // Read the flag before draining, so events sent before it was set are kept.
        let stopping = shutdown.load(Ordering::Acquire);
        let mut drained_any = false;
        loop {
            let mut rec = record.lock();
            let mut n = 0;
            while n < BATCH {
                match rx.try_recv() {
                    Ok(ev) => {
                        rec.apply(ev);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            rec.events_dropped = probe.counts().dropped.load(Ordering::Relaxed);
            // A fair unlock hands the lock to a waiting window at once: under
            // a flood the recorder would otherwise take it straight back.
            MutexGuard::unlock_fair(rec);
            drained_any |= n > 0;
            if n < BATCH {
                break;
            }
        }
        if stopping {
            return;
        }
        if !drained_any {
            // `finish` unparks it early.
            std::thread::park_timeout(POLL);
        }
    }
}
