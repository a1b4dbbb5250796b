//! Test support (feature `fake-k8s`): an in-repo fake Kubernetes API server (axum) implementing only what aimux uses:
//! /version, namespaces, secrets, deployments (create, get, list, merge-patch, delete) and
//! pods (list by label, deletion cost honoured on scale-down, exec/attach over WebSocket). A tiny "controller" turns a Deployment's replicas into pods, and each
//! pod runs its container as a REAL local process (command mapped to a local program, the
//! container's env + envFrom secret applied), killed by PID when the pod goes away.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Store {
    /// (resource, namespace ("" for cluster scope), name) → object
    pub objects: BTreeMap<(String, String, String), Value>,
    pub rv: u64,
    /// every request: "METHOD /path?query"
    pub requests: Vec<String>,
    /// container command[0] → local program
    pub command_map: HashMap<String, PathBuf>,
    pub procs: HashMap<String, Child>,
    /// environment of every pod process before the container's own env
    pub base_env: Vec<(String, String)>,
}

pub type Shared = Arc<Mutex<Store>>;

pub struct FakeK8s {
    pub url: String,
    pub store: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeK8s {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut s) = self.store.lock() {
            for (_, mut c) in s.procs.drain() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// A fake API server on its own runtime, for tests without one.
pub struct BackgroundFakeK8s {
    pub fake: FakeK8s,
    _rt: tokio::runtime::Runtime,
}

impl std::ops::Deref for BackgroundFakeK8s {
    type Target = FakeK8s;
    fn deref(&self) -> &FakeK8s {
        &self.fake
    }
}

impl FakeK8s {
    /// Starts the server on a runtime of its own (for synchronous tests).
    pub fn start_background(
        command_map: HashMap<String, PathBuf>,
        base_env: Vec<(String, String)>,
    ) -> std::io::Result<BackgroundFakeK8s> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let fake = rt.block_on(FakeK8s::start_with_env(command_map, base_env))?;
        Ok(BackgroundFakeK8s { fake, _rt: rt })
    }

    pub async fn start(command_map: HashMap<String, PathBuf>) -> std::io::Result<FakeK8s> {
        Self::start_with_env(command_map, Vec::new()).await
    }

    /// `base_env`: the environment every pod process starts with (what the image would set).
    pub async fn start_with_env(
        command_map: HashMap<String, PathBuf>,
        base_env: Vec<(String, String)>,
    ) -> std::io::Result<FakeK8s> {
        let store: Shared = Arc::new(Mutex::new(Store {
            command_map,
            base_env,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/version", get(version))
            .route("/api/v1/namespaces", get(list_ns).post(create_ns))
            .route("/api/v1/namespaces/{name}", get(get_ns))
            .route(
                "/api/v1/namespaces/{ns}/{res}",
                get(list_res).post(create_res),
            )
            .route("/api/v1/namespaces/{ns}/pods/{name}/exec", get(exec_ws))
            .route(
                "/api/v1/namespaces/{ns}/{res}/{name}",
                get(get_res)
                    .put(put_res)
                    .patch(patch_res)
                    .delete(delete_res),
            )
            .route(
                "/apis/apps/v1/namespaces/{ns}/{res}",
                get(list_res).post(create_res),
            )
            .route(
                "/apis/apps/v1/namespaces/{ns}/{res}/{name}",
                get(get_res)
                    .put(put_res)
                    .patch(patch_res)
                    .delete(delete_res),
            )
            .fallback(fallback)
            .layer(axum::middleware::from_fn_with_state(store.clone(), record))
            .with_state(store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeK8s {
            url: format!("http://{addr}"),
            store,
            task,
        })
    }

    pub fn client(&self) -> Result<kube::Client, String> {
        let uri: http::Uri = self.url.parse().map_err(|e| format!("{e}"))?;
        kube::Client::try_from(kube::Config::new(uri)).map_err(|e| e.to_string())
    }

    /// A kubeconfig file text pointing at this server (no auth), context `fake`.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\nusers:\n- name: fake\n  user: {{}}\ncurrent-context: fake\n",
            self.url
        )
    }

    pub fn get(&self, res: &str, ns: &str, name: &str) -> Option<Value> {
        self.store
            .lock()
            .ok()?
            .objects
            .get(&(res.into(), ns.into(), name.into()))
            .cloned()
    }

    pub fn count(&self, res: &str) -> usize {
        self.store
            .lock()
            .map(|s| s.objects.keys().filter(|k| k.0 == res).count())
            .unwrap_or(0)
    }

    pub fn requests(&self) -> Vec<String> {
        self.store
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    pub fn live_pids(&self) -> Vec<u32> {
        let Ok(mut s) = self.store.lock() else {
            return vec![];
        };
        s.procs
            .values_mut()
            .filter_map(|c| match c.try_wait() {
                Ok(None) => Some(c.id()),
                _ => None,
            })
            .collect()
    }
}

async fn record(
    State(st): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!(
        "{} {}",
        req.method(),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("")
    );
    if let Ok(mut s) = st.lock() {
        s.requests.push(line);
    }
    next.run(req).await
}

fn status(code: StatusCode, reason: &str, msg: String) -> Response {
    (
        code,
        axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": msg, "reason": reason, "code": code.as_u16()})),
    )
        .into_response()
}

fn not_found(res: &str, name: &str) -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{res} \"{name}\" not found"),
    )
}

async fn fallback(method: Method, uri: Uri) -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("fake API: no route for {method} {uri}"),
    )
}

async fn version() -> Response {
    axum::Json(
        json!({"major": "1", "minor": "37", "gitVersion": "v1.37.0-fake",
        "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}),
    )
    .into_response()
}

fn kind_of(res: &str) -> (&'static str, &'static str) {
    match res {
        "namespaces" => ("Namespace", "v1"),
        "secrets" => ("Secret", "v1"),
        "pods" => ("Pod", "v1"),
        "deployments" => ("Deployment", "apps/v1"),
        _ => ("Unknown", "v1"),
    }
}

fn stamp(s: &mut Store, obj: &mut Value, res: &str, ns: &str) {
    s.rv += 1;
    let (kind, api) = kind_of(res);
    obj["kind"] = json!(kind);
    obj["apiVersion"] = json!(api);
    obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    if obj["metadata"]["uid"].is_null() {
        obj["metadata"]["uid"] = json!(format!("uid-{}", s.rv));
        obj["metadata"]["creationTimestamp"] = json!("2026-11-27T00:00:00Z");
    }
    if !ns.is_empty() {
        obj["metadata"]["namespace"] = json!(ns);
    }
    if res == "secrets" {
        // like the real API: stringData is folded into base64 data and not returned
        if let Some(Value::Object(sd)) = obj.get("stringData").cloned() {
            for (k, v) in sd {
                let b = b64(v.as_str().unwrap_or("").as_bytes());
                obj["data"][k] = json!(b);
            }
            if let Some(o) = obj.as_object_mut() {
                o.remove("stringData");
            }
        }
    }
}

fn b64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn list_of(s: &Store, res: &str, ns: &str, selector: Option<&str>) -> Value {
    let (kind, api) = kind_of(res);
    let want: Vec<(String, String)> = selector
        .unwrap_or("")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let items: Vec<Value> = s
        .objects
        .iter()
        .filter(|((r, n, _), _)| r == res && n == ns)
        .map(|(_, v)| v.clone())
        .filter(|v| {
            want.iter()
                .all(|(k, val)| v["metadata"]["labels"][k] == val.as_str())
        })
        .collect();
    json!({"kind": format!("{kind}List"), "apiVersion": api,
           "metadata": {"resourceVersion": s.rv.to_string()}, "items": items})
}

async fn list_ns(State(st): State<Shared>) -> Response {
    let s = st.lock().unwrap_or_else(|e| e.into_inner());
    axum::Json(list_of(&s, "namespaces", "", None)).into_response()
}

async fn get_ns(State(st): State<Shared>, Path(name): Path<String>) -> Response {
    let s = st.lock().unwrap_or_else(|e| e.into_inner());
    match s
        .objects
        .get(&("namespaces".into(), String::new(), name.clone()))
    {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => not_found("namespaces", &name),
    }
}

async fn create_ns(State(st): State<Shared>, axum::Json(mut obj): axum::Json<Value>) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = ("namespaces".to_string(), String::new(), name.clone());
    if s.objects.contains_key(&key) {
        return status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("namespaces \"{name}\" already exists"),
        );
    }
    stamp(&mut s, &mut obj, "namespaces", "");
    obj["status"] = json!({"phase": "Active"});
    s.objects.insert(key, obj.clone());
    (StatusCode::CREATED, axum::Json(obj)).into_response()
}

fn ns_exists(s: &Store, ns: &str) -> bool {
    s.objects
        .contains_key(&("namespaces".into(), String::new(), ns.into()))
}

async fn list_res(
    State(st): State<Shared>,
    Path((ns, res)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = st.lock().unwrap_or_else(|e| e.into_inner());
    axum::Json(list_of(
        &s,
        &res,
        &ns,
        q.get("labelSelector").map(String::as_str),
    ))
    .into_response()
}

async fn get_res(
    State(st): State<Shared>,
    Path((ns, res, name)): Path<(String, String, String)>,
) -> Response {
    let s = st.lock().unwrap_or_else(|e| e.into_inner());
    match s.objects.get(&(res.clone(), ns, name.clone())) {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => not_found(&res, &name),
    }
}

async fn create_res(
    State(st): State<Shared>,
    Path((ns, res)): Path<(String, String)>,
    axum::Json(mut obj): axum::Json<Value>,
) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    if !ns_exists(&s, &ns) {
        return not_found("namespaces", &ns);
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = (res.clone(), ns.clone(), name.clone());
    if s.objects.contains_key(&key) {
        return status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{res} \"{name}\" already exists"),
        );
    }
    stamp(&mut s, &mut obj, &res, &ns);
    s.objects.insert(key, obj);
    if res == "deployments" {
        reconcile(&mut s, &ns, &name);
    }
    let out = s
        .objects
        .get(&(res, ns, name))
        .cloned()
        .unwrap_or(Value::Null);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn put_res(
    State(st): State<Shared>,
    Path((ns, res, name)): Path<(String, String, String)>,
    axum::Json(mut obj): axum::Json<Value>,
) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    let key = (res.clone(), ns.clone(), name.clone());
    let Some(old) = s.objects.get(&key) else {
        return not_found(&res, &name);
    };
    if obj["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
        return status(
            StatusCode::CONFLICT,
            "Conflict",
            "resourceVersion mismatch".into(),
        );
    }
    obj["metadata"]["uid"] = old["metadata"]["uid"].clone();
    stamp(&mut s, &mut obj, &res, &ns);
    s.objects.insert(key.clone(), obj.clone());
    (StatusCode::OK, axum::Json(obj)).into_response()
}

fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

async fn patch_res(
    State(st): State<Shared>,
    Path((ns, res, name)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "application/merge-patch+json" {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("fake API supports merge patches only, got {ct}"),
        );
    }
    let Ok(patch) = serde_json::from_str::<Value>(&body) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "patch is not JSON".into(),
        );
    };
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    let key = (res.clone(), ns.clone(), name.clone());
    let Some(mut obj) = s.objects.get(&key).cloned() else {
        return not_found(&res, &name);
    };
    merge(&mut obj, &patch);
    stamp(&mut s, &mut obj, &res, &ns);
    s.objects.insert(key.clone(), obj);
    if res == "deployments" {
        reconcile(&mut s, &ns, &name);
    }
    let out = s.objects.get(&key).cloned().unwrap_or(Value::Null);
    axum::Json(out).into_response()
}

/// The annotation a real ReplicaSet controller reads to pick which pods go first when a
/// Deployment scales down (lowest cost first).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

fn deletion_cost(pod: &Value) -> i64 {
    pod["metadata"]["annotations"][DELETION_COST]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn pod_index(dep: &str, pod: &str) -> Option<usize> {
    pod.strip_prefix(dep)?.strip_prefix('-')?.parse().ok()
}

fn remove_pod(s: &mut Store, ns: &str, name: &str) {
    s.objects.remove(&("pods".into(), ns.into(), name.into()));
    if let Some(mut c) = s.procs.remove(name) {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// The "controller": pods `{dep}-{i}`, each a local process. Scaling down removes the pods
/// with the lowest deletion cost first (then the newest), like a ReplicaSet; scaling up
/// takes the lowest free index.
fn reconcile(s: &mut Store, ns: &str, dep: &str) {
    let Some(d) = s
        .objects
        .get(&("deployments".into(), ns.into(), dep.into()))
        .cloned()
    else {
        return;
    };
    let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let labels = d["spec"]["template"]["metadata"]["labels"].clone();
    let container = d["spec"]["template"]["spec"]["containers"][0].clone();
    let mut existing: Vec<(i64, usize, String)> = s
        .objects
        .iter()
        .filter(|((r, n, _), _)| r == "pods" && n == ns)
        .filter_map(|((_, _, name), pod)| {
            pod_index(dep, name).map(|i| (deletion_cost(pod), i, name.clone()))
        })
        .collect();
    // lowest cost first, then the newest
    existing.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let surplus = existing.len().saturating_sub(replicas);
    for (_, _, name) in existing.drain(..surplus) {
        remove_pod(s, ns, &name);
    }
    let mut taken: Vec<usize> = existing.iter().map(|e| e.1).collect();
    let mut next = 0;
    while taken.len() < replicas {
        while taken.contains(&next) {
            next += 1;
        }
        taken.push(next);
        let name = format!("{dep}-{next}");
        let key = ("pods".to_string(), ns.to_string(), name.clone());
        let (phase, reason) = match spawn_container(s, ns, &name, &container) {
            Ok(child) => {
                s.procs.insert(name.clone(), child);
                ("Running", Value::Null)
            }
            Err(e) => ("Pending", json!(e)),
        };
        let mut pod = json!({"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [container.clone()]},
            "status": {"phase": phase, "startTime": "2026-11-27T00:00:00Z"}});
        if !reason.is_null() {
            pod["status"]["containerStatuses"] = json!([{"name": "worker", "ready": false, "restartCount": 0,
                "image": container["image"], "imageID": "",
                "state": {"waiting": {"reason": "ErrImagePull", "message": reason}}}]);
        }
        stamp(s, &mut pod, "pods", ns);
        s.objects.insert(key, pod);
    }
    let ready = s
        .objects
        .iter()
        .filter(|((r, n, name), p)| {
            r == "pods"
                && n == ns
                && pod_index(dep, name).is_some()
                && p["status"]["phase"] == "Running"
        })
        .count();
    if let Some(d) = s
        .objects
        .get_mut(&("deployments".into(), ns.into(), dep.into()))
    {
        d["status"] =
            json!({"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready});
    }
}

/// DELETE of a deployment (its pods go with it) or of a pod.
async fn delete_res(
    State(st): State<Shared>,
    Path((ns, res, name)): Path<(String, String, String)>,
) -> Response {
    let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
    let key = (res.clone(), ns.clone(), name.clone());
    let Some(obj) = s.objects.remove(&key) else {
        return not_found(&res, &name);
    };
    match res.as_str() {
        "deployments" => {
            let pods: Vec<String> = s
                .objects
                .keys()
                .filter(|(r, n, p)| r == "pods" && *n == ns && pod_index(&name, p).is_some())
                .map(|k| k.2.clone())
                .collect();
            for p in pods {
                remove_pod(&mut s, &ns, &p);
            }
        }
        "pods" => remove_pod(&mut s, &ns, &name),
        _ => {}
    }
    axum::Json(obj).into_response()
}

fn spawn_container(s: &Store, ns: &str, pod: &str, c: &Value) -> Result<Child, String> {
    let cmd0 = c["command"][0].as_str().unwrap_or("");
    let Some(prog) = s.command_map.get(cmd0) else {
        return Err(format!("fake API: no local program for command {cmd0:?}"));
    };
    let mut cmd = Command::new(prog);
    // like a container runtime: command[1..] then args
    if let Some(rest) = c["command"].as_array() {
        cmd.args(rest.iter().skip(1).filter_map(Value::as_str));
    }
    if let Some(args) = c["args"].as_array() {
        cmd.args(args.iter().filter_map(Value::as_str));
    }
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOSTNAME", pod);
    for (k, v) in &s.base_env {
        cmd.env(k, v);
    }
    for e in c["env"].as_array().into_iter().flatten() {
        let Some(k) = e["name"].as_str() else {
            continue;
        };
        if let Some(v) = e["value"].as_str() {
            cmd.env(k, v);
        } else if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" {
            // the downward API
            cmd.env(k, pod);
        }
    }
    for ef in c["envFrom"].as_array().into_iter().flatten() {
        let Some(sec) = ef["secretRef"]["name"].as_str() else {
            continue;
        };
        match s.objects.get(&("secrets".into(), ns.into(), sec.into())) {
            Some(secret) => {
                if let Some(data) = secret["data"].as_object() {
                    for (k, v) in data {
                        cmd.env(
                            k,
                            String::from_utf8_lossy(&b64_decode(v.as_str().unwrap_or("")))
                                .into_owned(),
                        );
                    }
                }
            }
            None if ef["secretRef"]["optional"] == true => {}
            None => return Err(format!("secret {sec} not found")),
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", prog.display()))
}

/// pods/exec over WebSocket (subprotocol v4.channel.k8s.io: every binary frame starts with
/// its channel byte: 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize), bridged to a REAL
/// local process. With tty=true the process gets a pseudo-terminal through `script`.
async fn exec_ws(
    State(st): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let (pod_ok, base_env) = {
        let s = st.lock().unwrap_or_else(|e| e.into_inner());
        (
            s.objects
                .contains_key(&("pods".into(), ns.clone(), name.clone())),
            s.base_env.clone(),
        )
    };
    if !pod_ok {
        return not_found("pods", &name);
    }
    let mut command = Vec::new();
    let mut tty = false;
    for pair in q.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "command" => command.push(v),
            "tty" => tty = v == "true",
            _ => {}
        }
    }
    if command.is_empty() {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "no command".into());
    }
    ws.protocols(["v4.channel.k8s.io"])
        .on_upgrade(move |socket| bridge(socket, command, tty, base_env, name))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn shell_quote(a: &str) -> String {
    format!("'{}'", a.replace('\'', "'\\''"))
}

async fn bridge(
    mut socket: axum::extract::ws::WebSocket,
    command: Vec<String>,
    tty: bool,
    base_env: Vec<(String, String)>,
    pod: String,
) {
    use axum::extract::ws::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cmd = if tty {
        let line = command
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = tokio::process::Command::new("script");
        c.args(["-qfec", &line, "/dev/null"]);
        c
    } else {
        let mut c = tokio::process::Command::new(&command[0]);
        c.args(&command[1..]);
        c
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOSTNAME", &pod)
        .env("TERM", "xterm-256color");
    for (k, v) in &base_env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let frame = |ch: u8, data: &[u8]| {
        let mut v = Vec::with_capacity(data.len() + 1);
        v.push(ch);
        v.extend_from_slice(data);
        Message::Binary(v.into())
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let st = json!({"metadata": {}, "status": "Failure", "message": format!("exec: {e}"), "reason": "InternalError"});
            let _ = socket.send(frame(3, st.to_string().as_bytes())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut obuf = vec![0u8; 8192];
    let mut ebuf = vec![0u8; 8192];
    let (mut out_open, mut err_open) = (true, true);
    loop {
        tokio::select! {
            n = async { match stdout.as_mut() { Some(o) => o.read(&mut obuf).await, None => Ok(0) } }, if out_open => {
                match n {
                    Ok(0) | Err(_) => out_open = false,
                    Ok(n) => { if socket.send(frame(1, &obuf[..n])).await.is_err() { break; } }
                }
            }
            n = async { match stderr.as_mut() { Some(o) => o.read(&mut ebuf).await, None => Ok(0) } }, if err_open => {
                match n {
                    Ok(0) | Err(_) => err_open = false,
                    Ok(n) => { if socket.send(frame(2, &ebuf[..n])).await.is_err() { break; } }
                }
            }
            msg = socket.recv() => {
                match msg {
                    Some(Ok(Message::Binary(b))) if b.first() == Some(&0) => {
                        if let Some(i) = stdin.as_mut() {
                            let _ = i.write_all(&b[1..]).await;
                            let _ = i.flush().await;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        let _ = child.start_kill();
                        break;
                    }
                    _ => {}
                }
            }
            else => break,
        }
        if !out_open && !err_open {
            break;
        }
    }
    let code = child.wait().await.ok().and_then(|s| s.code());
    let st = match code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        other => json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": format!("command terminated with exit code {}", other.unwrap_or(-1)),
            "details": {"causes": [{"reason": "ExitCode", "message": other.unwrap_or(-1).to_string()}]}}),
    };
    let _ = socket.send(frame(3, st.to_string().as_bytes())).await;
    let _ = socket.send(Message::Close(None)).await;
}
