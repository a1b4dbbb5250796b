//! Export to a REAL MLflow server (PyPI `mlflow>=3,<4`, venv from testkit/mlflow_env.sh,
//! sqlite store): an annotated fixture session goes out as one OTLP trace; MLflow's REST API
//! gives back the span tree, models, token counts and feedback; re-exporting keeps one trace.
//! Ground truth is tests/fixtures/expected/sessions.json (the model server's own record).

mod otel_common;

use otel_common::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TEST: &str = "mlflow_receives_annotated_session_as_one_trace";
const SESSION: &str = "475d55ed-5f7c-421d-aca0-493c28a96da1"; // claude multi-turn, 3 turns, 1 tool

/// The MLflow server, in its own process group and marked in its environment: on drop the
/// group gets SIGTERM, then every process still carrying the marker (MLflow's job consumers
/// outlive their parent) is killed by pid.
struct Mlflow {
    child: Child,
    marker: String,
}

fn marked_pids(marker: &str) -> Vec<i32> {
    let want = format!("AIMUX_MLFLOW_TEST={marker}");
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        })
        .collect()
}

impl Drop for Mlflow {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) && marked_pids(&self.marker).is_empty()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in marked_pids(&self.marker) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn attrs(span: &Value) -> serde_json::Map<String, Value> {
    span["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let v = a["value"].as_object()?.values().next()?.clone();
            Some((a["key"].as_str()?.to_string(), v))
        })
        .collect()
}

fn int(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn search(base: &str) -> Vec<Value> {
    let (status, v) = post_json(
        &format!("{base}/api/3.0/mlflow/traces/search"),
        &json!({"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}]}),
        &[],
    );
    assert_eq!(status, 200, "{v}");
    v["traces"].as_array().cloned().unwrap_or_default()
}

#[test]
fn mlflow_receives_annotated_session_as_one_trace() {
    let env = Command::new("bash")
        .arg(workspace().join("testkit/mlflow_env.sh"))
        .arg("mlflow")
        .output();
    let mlflow = match env {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => return skip(TEST, String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => return skip(TEST, &format!("bash: {e}")),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = dir.path().join("mlflow.db");
    use std::os::unix::process::CommandExt;
    let marker = dir.path().display().to_string();
    let server = Mlflow {
        marker: marker.clone(),
        child: Command::new(&mlflow)
            .env("AIMUX_MLFLOW_TEST", &marker)
            .process_group(0)
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", db.display()))
            .arg("--default-artifact-root")
            .arg(dir.path().join("artifacts"))
            .args(["--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mlflow"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let up = agent()
            .get(&format!("{base}/health"))
            .call()
            .is_ok_and(|r| r.status().as_u16() == 200);
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mlflow did not come up on {base}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, created) = post_json(
        &format!("{base}/api/2.0/mlflow/experiments/create"),
        &json!({"name": "aimux-export-test"}),
        &[],
    );
    assert_eq!(status, 200, "{created}");
    let exp = created["experiment_id"]
        .as_str()
        .expect("experiment id")
        .to_string();
    assert_eq!(exp, "1");

    let home = fixture_home(dir.path());
    let ah = dir.path().join("aimux");
    aimux(
        &ah,
        &home,
        &[
            "annotate",
            &SESSION[..8],
            "1",
            "good",
            "--note",
            "clear answer",
        ],
    );
    aimux(
        &ah,
        &home,
        &[
            "annotate",
            &SESSION[..8],
            "2",
            "bad",
            "--note",
            "ignored the question",
        ],
    );
    // The experiment id comes from config (export.mlflow.experiment_id), the endpoint from the flag.
    std::fs::create_dir_all(&ah).expect("aimux home");
    std::fs::write(
        ah.join("config.yaml"),
        format!("export:\n  mlflow:\n    experiment_id: \"{exp}\"\n  headers:\n    x-aimux-test: \"1\"\n"),
    )
    .expect("config");
    let export = |args: &[&str]| -> Value {
        let mut a = vec!["export", SESSION, "--otlp", "--endpoint", &base, "--json"];
        a.extend_from_slice(args);
        serde_json::from_str(&aimux(&ah, &home, &a)).expect("export json")
    };
    let first = export(&["--jsonl"]);
    let trace_hex = first["otlp"]["trace_id"]
        .as_str()
        .expect("trace id")
        .to_string();
    assert_eq!(trace_hex.len(), 32);

    let want = expected_session(SESSION);
    let want_turns = want["turns"].as_u64().expect("turns");
    let want_tools = want["tool_calls"].as_u64().expect("tools");

    let traces = search(&base);
    assert_eq!(traces.len(), 1, "{traces:?}");
    let mlflow_id = traces[0]["trace_id"]
        .as_str()
        .expect("mlflow trace id")
        .to_string();
    assert_eq!(mlflow_id, format!("tr-{trace_hex}"));

    let got = get_json(&format!(
        "{base}/api/3.0/mlflow/traces/batchGet?trace_ids={mlflow_id}"
    ));
    let spans = got["traces"][0]["spans"]
        .as_array()
        .cloned()
        .expect("spans");
    assert_eq!(
        spans.len() as u64,
        1 + want_turns + want_tools,
        "span count"
    );
    let parent = |s: &Value| {
        s["parent_span_id"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_string)
    };
    let roots: Vec<&Value> = spans.iter().filter(|s| parent(s).is_none()).collect();
    assert_eq!(roots.len(), 1, "one root span");
    let root_id = roots[0]["span_id"].as_str().expect("root id").to_string();
    let turns: Vec<&Value> = spans
        .iter()
        .filter(|s| parent(s).as_deref() == Some(root_id.as_str()))
        .collect();
    assert_eq!(turns.len() as u64, want_turns);
    let turn_ids: Vec<String> = turns
        .iter()
        .filter_map(|s| s["span_id"].as_str().map(str::to_string))
        .collect();
    let tools: Vec<&Value> = spans
        .iter()
        .filter(|s| parent(s).is_some_and(|p| turn_ids.contains(&p)))
        .collect();
    assert_eq!(tools.len() as u64, want_tools);
    assert!(
        tools
            .iter()
            .all(|t| attrs(t)["gen_ai.operation.name"] == "execute_tool")
    );

    // Models and tokens, per turn, add up to the server's record.
    let models: Vec<String> = want["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    let mut sum = [0u64; 4];
    for t in &turns {
        let a = attrs(t);
        let model = a
            .get("gen_ai.request.model")
            .and_then(Value::as_str)
            .expect("turn model");
        assert!(
            models.iter().any(|m| m == model),
            "{model} not in {models:?}"
        );
        for (i, k) in ["input", "output", "cache_read", "cache_write"]
            .iter()
            .enumerate()
        {
            sum[i] += int(a.get(&format!("aimux.tokens.{k}")));
        }
        let total_in = int(a.get("gen_ai.usage.input_tokens"));
        assert_eq!(
            total_in,
            int(a.get("aimux.tokens.input"))
                + int(a.get("aimux.tokens.cache_read"))
                + int(a.get("aimux.tokens.cache_write"))
        );
    }
    let wt = &want["tokens"];
    assert_eq!(
        sum,
        [
            int(wt.get("input")),
            int(wt.get("output")),
            int(wt.get("cache_read")),
            int(wt.get("cache_write"))
        ],
        "per-turn tokens in MLflow vs the server record"
    );
    let ra = attrs(roots[0]);
    assert_eq!(
        int(ra.get("gen_ai.usage.output_tokens")),
        int(wt.get("output"))
    );
    assert_eq!(ra["gen_ai.system"], "anthropic");

    // Feedback from the annotations.
    let by_number = |n: u64| {
        turns
            .iter()
            .map(|t| attrs(t))
            .find(|a| int(a.get("aimux.turn.number")) == n)
            .expect("turn span by number")
    };
    let t1 = by_number(1);
    assert_eq!(t1["aimux.feedback.value"], "good");
    assert_eq!(t1["aimux.feedback.rationale"], "clear answer");
    let t2 = by_number(2);
    assert_eq!(t2["aimux.feedback.value"], "bad");
    assert_eq!(t2["aimux.feedback.rationale"], "ignored the question");
    assert!(by_number(3).get("aimux.feedback.value").is_none());

    // Times are real: every span inside its parent, turns in order.
    for s in &spans {
        let (st, en) = (
            int(s.get("start_time_unix_nano")),
            int(s.get("end_time_unix_nano")),
        );
        assert!(st > 0 && en >= st, "{s}");
    }

    // JSONL export: one line per turn with label and note.
    let path = first["jsonl"].as_str().expect("jsonl path");
    let lines: Vec<Value> = std::fs::read_to_string(path)
        .expect("jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl line"))
        .collect();
    assert_eq!(lines.len() as u64, want_turns);
    assert_eq!(lines[0]["label"], "good");
    assert_eq!(lines[1]["note"], "ignored the question");

    // Re-export: same trace id, still one trace with the same spans.
    let again = export(&[]);
    assert_eq!(again["otlp"]["trace_id"], first["otlp"]["trace_id"]);
    let traces = search(&base);
    assert_eq!(
        traces.len(),
        1,
        "re-export duplicated the trace: {traces:?}"
    );
    let got = get_json(&format!(
        "{base}/api/3.0/mlflow/traces/batchGet?trace_ids={mlflow_id}"
    ));
    assert_eq!(
        got["traces"][0]["spans"].as_array().map(Vec::len),
        Some(spans.len())
    );
    drop(server);
}
