//! `multiprocessing.Manager()`: a server process (`SyncManager-N`) that
//! holds a dict and a list; other processes change them through proxies,
//! each call a request over a Unix socket, served by a thread of the
//! server per connection (as CPython's manager serves each client).
//! Keys are kept as Python writes them (`repr`: `1`, `'2'`, `0.25`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::child::ChildArgs;
use super::wire::Handle;
use super::{Process, ProcessSpec};
use crate::error::{SyncError, SyncResult};
use crate::state::State;
use crate::worker::{Ctx, StateScope, current};
use crate::{LabHandle, LabShared};

/// The child target of a manager's server process.
pub const SERVER_TARGET: &str = "multiprocessing.manager.server";

/// What the server holds.
#[derive(Default)]
struct Objects {
    dict: Vec<(String, Value)>,
    list: Vec<Value>,
    /// `shutdown()` asked: the server's MainThread returns (exit code 0).
    shutdown: bool,
}

impl Objects {
    fn call(&mut self, req: &Value) -> Value {
        let method = req["method"].as_str().unwrap_or("");
        match method {
            "dict.__setitem__" => {
                let key = req["key"].as_str().unwrap_or("").to_string();
                let value = req["value"].clone();
                match self.dict.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => self.dict.push((key, value)),
                }
                Value::Null
            }
            "dict.items" => Value::Array(self.dict.iter().map(|(k, v)| json!([k, v])).collect()),
            "list.extend" => {
                if let Some(items) = req["items"].as_array() {
                    self.list.extend(items.iter().cloned());
                }
                Value::Null
            }
            "list.reverse" => {
                self.list.reverse();
                Value::Null
            }
            "list.items" => Value::Array(self.list.clone()),
            "shutdown" => {
                self.shutdown = true;
                Value::Null
            }
            _ => json!({ "error": format!("AttributeError: no method {method}") }),
        }
    }
}

/// The server process's MainThread: accept connections, a thread each.
pub fn server(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let path = args.args["path"].as_str().unwrap_or("").to_string();
    let listener = UnixListener::bind(&path)
        .map_err(|e| SyncError::exception("OSError", format!("bind {path}: {e}")))?;
    let _ = listener.set_nonblocking(true);
    let objects: Arc<Mutex<Objects>> = Arc::default();
    let lab = ctx.lab();
    ctx.log(format!("{}: serving a dict and a list", args.name));
    let me = current();
    loop {
        let accepted = {
            let _wait = StateScope::enter(me.as_deref(), State::Waiting, None);
            loop {
                ctx.check()?;
                if objects.lock().shutdown {
                    ctx.log(format!("{}: shutting down", args.name));
                    return Ok(());
                }
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(SyncError::exception("OSError", e.to_string())),
                }
            }
        };
        let objects = objects.clone();
        let t = lab.thread_for("serve_client", true, move |c| serve(c, accepted, &objects));
        t.start()?;
    }
}

fn serve(ctx: &Ctx, stream: UnixStream, objects: &Mutex<Objects>) -> SyncResult<()> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    let mut writer = stream
        .try_clone()
        .map_err(|e| SyncError::exception("OSError", e.to_string()))?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(line) = read_line(ctx, &mut reader)? else {
            return Ok(());
        };
        let Ok(req) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        ctx.check()?;
        let reply = objects.lock().call(&req);
        let mut out = serde_json::to_string(&reply).unwrap_or_else(|_| "null".into());
        out.push('\n');
        if writer.write_all(out.as_bytes()).is_err() {
            return Ok(());
        }
    }
}

/// One line from a socket with a short read timeout, blocked (shown so)
/// and stop-aware; None at the end.
fn read_line(ctx: &Ctx, reader: &mut BufReader<UnixStream>) -> SyncResult<Option<String>> {
    let me = current();
    let _wait = StateScope::enter(me.as_deref(), State::Blocked, None);
    let mut line = String::new();
    loop {
        if ctx.lab().is_stopping() || me.as_ref().is_some_and(|w| w.is_killed()) {
            return Err(SyncError::Stopped);
        }
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(_) if line.ends_with('\n') => return Ok(Some(line)),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return Ok(None),
        }
    }
}

/// `Manager()`: its server process, and where to reach it.
pub struct Manager {
    process: Process,
    path: String,
}

impl Manager {
    /// Start the server process and wait until it answers.
    pub fn start(ctx: &Ctx) -> SyncResult<Manager> {
        let lab = ctx.lab();
        let path = std::env::temp_dir()
            .join(format!(
                "hilos-manager-{}-{}-{}.sock",
                std::process::id(),
                lab.0.serial,
                lab.0
                    .processes()
                    .next_id
                    .load(std::sync::atomic::Ordering::Relaxed)
            ))
            .display()
            .to_string();
        let _ = std::fs::remove_file(&path);
        let mut spec = ProcessSpec::new(SERVER_TARGET, json!({ "path": path }));
        spec.name = Some(format!(
            "SyncManager-{}",
            lab.0
                .processes()
                .names
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1
        ));
        spec.daemon = true;
        let process = lab.process(spec);
        process.start()?;
        let manager = Manager { process, path };
        // Ready once it accepts a connection.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            ctx.check()?;
            if UnixStream::connect(&manager.path).is_ok() {
                return Ok(manager);
            }
            if Instant::now() >= deadline || !manager.process.is_alive() {
                return Err(SyncError::exception(
                    "EOFError",
                    "the manager's server process did not start",
                ));
            }
            ctx.sleep_real(Duration::from_millis(5))?;
        }
    }

    pub fn handle(&self) -> Handle {
        Handle::Manager {
            path: self.path.clone(),
        }
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    /// A proxy to its objects from this process.
    pub fn proxy(&self, lab: &LabHandle) -> SyncResult<Proxy> {
        Proxy::connect(lab, &self.path)
    }

    /// Leaving `with Manager() as manager:`: the server is asked to shut
    /// down (and terminated if it does not within a second).
    pub fn shutdown(&self, lab: &LabHandle) {
        if let Ok(proxy) = Proxy::connect(lab, &self.path) {
            let _ = proxy.call(json!({ "method": "shutdown" }));
        }
        if !matches!(self.process.join(Some(1.0)), Ok(true)) {
            self.process.terminate();
            let _ = self.process.join(Some(5.0));
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A proxy: each call is a request to the manager's server and its reply.
pub struct Proxy {
    lab: Arc<LabShared>,
    conn: Mutex<(UnixStream, BufReader<UnixStream>)>,
}

impl Proxy {
    pub fn connect(lab: &LabHandle, path: &str) -> SyncResult<Proxy> {
        let s = UnixStream::connect(path)
            .map_err(|e| SyncError::exception("ConnectionRefusedError", e.to_string()))?;
        let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
        let r = s
            .try_clone()
            .map_err(|e| SyncError::exception("OSError", e.to_string()))?;
        Ok(Proxy {
            lab: lab.0.clone(),
            conn: Mutex::new((s, BufReader::new(r))),
        })
    }

    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Proxy> {
        match handle {
            Handle::Manager { path } => Self::connect(lab, path),
            _ => Err(SyncError::exception("TypeError", "not a Manager")),
        }
    }

    fn call(&self, request: Value) -> SyncResult<Value> {
        let mut conn = self.conn.lock();
        let mut line = serde_json::to_string(&request).unwrap_or_default();
        line.push('\n');
        conn.0
            .write_all(line.as_bytes())
            .map_err(|_| SyncError::exception("EOFError", "the manager is gone"))?;
        let me = current();
        let _wait = StateScope::enter(me.as_deref(), State::Blocked, None);
        let mut reply = String::new();
        loop {
            if self.lab.is_stopping() || me.as_ref().is_some_and(|w| w.is_killed()) {
                return Err(SyncError::Stopped);
            }
            match conn.1.read_line(&mut reply) {
                Ok(0) => return Err(SyncError::exception("EOFError", "the manager is gone")),
                Ok(_) if reply.ends_with('\n') => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(SyncError::exception("OSError", e.to_string())),
            }
        }
        let v: Value = serde_json::from_str(&reply).unwrap_or(Value::Null);
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            return Err(SyncError::exception(e, ""));
        }
        Ok(v)
    }

    /// `d[key] = value` (`key` as Python's repr of it).
    pub fn dict_set(&self, key: &str, value: Value) -> SyncResult<()> {
        self.call(json!({ "method": "dict.__setitem__", "key": key, "value": value }))
            .map(|_| ())
    }

    /// `d.items()`, as (repr of the key, value).
    pub fn dict_items(&self) -> SyncResult<Vec<(String, Value)>> {
        let v = self.call(json!({ "method": "dict.items" }))?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|kv| (kv[0].as_str().unwrap_or("").to_string(), kv[1].clone()))
            .collect())
    }

    /// `l.extend(items)`.
    pub fn list_extend(&self, items: Vec<Value>) -> SyncResult<()> {
        self.call(json!({ "method": "list.extend", "items": items }))
            .map(|_| ())
    }

    /// `l.reverse()`.
    pub fn list_reverse(&self) -> SyncResult<()> {
        self.call(json!({ "method": "list.reverse" })).map(|_| ())
    }

    /// `l[:]`.
    pub fn list_items(&self) -> SyncResult<Vec<Value>> {
        let v = self.call(json!({ "method": "list.items" }))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}
