//! Redis coordination: task queue and records, agent registry with heartbeats, inboxes,
//! per-agent token counters. Keys and fields come from [`crate::schema`] only.

use crate::schema::{self, Keys, agent as af, now_ms, status, task as tf, usage as uf};
use aimux_core::TokenUsage;
use aimux_core::pricing::PriceTable;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    #[error("redis at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("no task '{0}'")]
    NoSuchTask(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, CoordError>;

/// A task as stored in `{p}:task:{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub prompt: String,
    pub role: Option<String>,
    pub provider: String,
    pub dir: Option<String>,
    pub status: String,
    pub assignee: Option<String>,
    /// Unix milliseconds (as every timestamp in Redis).
    pub created_at: Option<i64>,
    pub claimed_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub retries: u32,
    pub max_retries: u32,
    pub model: Option<String>,
    pub tokens: Option<TokenUsage>,
    /// Priced by aimux (aimux-core pricing); `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// What the agent itself reported, when it reports a cost (Claude Code does).
    pub reported_cost_usd: Option<f64>,
}

impl TaskRecord {
    fn from_hash(h: &HashMap<String, String>) -> Option<TaskRecord> {
        let get = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
        let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        Some(TaskRecord {
            id: get(tf::ID)?,
            prompt: get(tf::PROMPT).unwrap_or_default(),
            role: get(tf::ROLE),
            provider: get(tf::PROVIDER).unwrap_or_default(),
            dir: get(tf::DIR),
            status: get(tf::STATUS).unwrap_or_default(),
            assignee: get(tf::ASSIGNEE),
            created_at: int(tf::CREATED_AT),
            claimed_at: int(tf::CLAIMED_AT),
            started_at: int(tf::STARTED_AT),
            finished_at: int(tf::FINISHED_AT),
            result: get(tf::RESULT),
            error: get(tf::ERROR),
            retries: int(tf::RETRIES)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            max_retries: int(tf::MAX_RETRIES)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            model: get(tf::MODEL),
            tokens: get(tf::TOKENS).and_then(|v| serde_json::from_str(&v).ok()),
            cost_usd: int(tf::COST_MICRO_USD).map(|m| m as f64 / 1e6),
            reported_cost_usd: int(tf::REPORTED_COST_MICRO_USD).map(|m| m as f64 / 1e6),
        })
    }

    pub fn is_finished(&self) -> bool {
        self.status == status::DONE || self.status == status::FAILED
    }
}

/// What to submit.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub provider: String,
    pub prompt: String,
    pub dir: Option<String>,
    pub role: Option<String>,
    pub max_retries: u32,
}

/// An agent (worker) as stored in `{p}:agent:{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: String,
    pub provider: Option<String>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub status: Option<String>,
    pub current_task: Option<String>,
    pub location: Option<String>,
    pub registered_at: Option<i64>,
    /// Unix milliseconds of the last heartbeat.
    pub heartbeat_at: Option<i64>,
    /// Milliseconds since the last heartbeat when listed.
    pub heartbeat_age_ms: Option<i64>,
}

/// A message in an agent's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub from: String,
    pub text: String,
    /// Unix milliseconds.
    pub sent_at: i64,
    /// `message` for free text, `stop` asks a worker to finish its current task and leave.
    #[serde(default = "default_kind")]
    pub kind: String,
}

fn default_kind() -> String {
    "message".into()
}

/// How a failed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailOutcome {
    /// Back in the queue (retries was incremented).
    Requeued,
    /// Out of retries: the task is `failed`.
    Failed,
    /// The task was not claimed/running by this agent: nothing changed.
    Ignored,
}

/// Token counters of one agent, per model, plus task counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentUsage {
    pub agent: String,
    pub by_model: BTreeMap<String, TokenUsage>,
    pub tasks_done: u64,
    pub tasks_failed: u64,
    pub reported_cost_usd: Option<f64>,
}

/// A cost line: tokens of one model priced with aimux-core's price table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub agent: String,
    pub model: String,
    pub tokens: TokenUsage,
    /// `None` when the model is not in the price list (shown as unknown, never $0).
    pub cost_usd: Option<f64>,
}

/// The costs report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostReport {
    pub lines: Vec<CostLine>,
    /// Sum of the priced lines.
    pub total_usd: f64,
    /// Models with tokens but no price.
    pub unpriced_models: Vec<String>,
    pub price_source: String,
}

const CLAIM_LUA: &str = r#"
-- KEYS: queues to try in order. ARGV[1]=agent, ARGV[2]=now ms, ARGV[3]=task key prefix
for _, q in ipairs(KEYS) do
  while true do
    local id = redis.call('RPOP', q)
    if not id then break end
    local tk = ARGV[3] .. id
    if redis.call('HGET', tk, 'status') == 'pending' then
      redis.call('HSET', tk, 'status', 'claimed', 'assignee', ARGV[1], 'claimed_at', ARGV[2])
      redis.call('HDEL', tk, 'started_at', 'finished_at')
      return id
    end
  end
end
return false
"#;

const FAIL_LUA: &str = r#"
-- KEYS[1]=task key, KEYS[2]=queue. ARGV[1]=id, ARGV[2]=agent, ARGV[3]=now ms, ARGV[4]=error
local st = redis.call('HGET', KEYS[1], 'status')
if (st ~= 'claimed' and st ~= 'running') or redis.call('HGET', KEYS[1], 'assignee') ~= ARGV[2] then
  return 'ignored'
end
local retries = tonumber(redis.call('HGET', KEYS[1], 'retries') or '0') or 0
local maxr = tonumber(redis.call('HGET', KEYS[1], 'max_retries') or '0') or 0
redis.call('HSET', KEYS[1], 'error', ARGV[4])
if retries < maxr then
  redis.call('HSET', KEYS[1], 'status', 'pending', 'retries', retries + 1, 'assignee', '')
  redis.call('HDEL', KEYS[1], 'claimed_at', 'started_at')
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 'requeued'
end
redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[3])
return 'failed'
"#;

const SET_IF_ASSIGNED_LUA: &str = r#"
-- KEYS[1]=task key. ARGV[1]=agent, ARGV[2]=expected status, then field/value pairs
if redis.call('HGET', KEYS[1], 'assignee') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'status') ~= ARGV[2] then
  return 0
end
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(args))
return 1
"#;

/// A connection to the coordination Redis plus the key schema.
#[derive(Clone)]
pub struct Coordinator {
    conn: ConnectionManager,
    keys: Keys,
    url: String,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("url", &redact(&self.url))
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Coordinator {
    /// Connects (fails fast: a connect timeout of a few seconds, no endless retry).
    pub async fn connect(url: &str, prefix: &str) -> Result<Coordinator> {
        let err = |source| CoordError::Connect {
            url: redact(url),
            source,
        };
        let client = redis::Client::open(url).map_err(err)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(30)))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| {
            err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connection timed out",
            )))
        })?
        .map_err(err)?;
        Ok(Coordinator {
            conn,
            keys: Keys::new(prefix),
            url: url.to_string(),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn url_redacted(&self) -> String {
        redact(&self.url)
    }

    /// PING round trip.
    pub async fn ping(&self) -> Result<Duration> {
        let mut c = self.conn.clone();
        let t = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(t.elapsed())
    }

    /// The server's version string (INFO server).
    pub async fn server_version(&self) -> Result<Option<String>> {
        let mut c = self.conn.clone();
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(|v| v.trim().to_string()))
    }

    // ------------------------------------------------------------------ tasks

    pub async fn submit(&self, t: &NewTask) -> Result<TaskRecord> {
        if !schema::PROVIDERS.contains(&t.provider.as_str()) {
            return Err(CoordError::Invalid(format!(
                "unknown provider '{}' (known: {})",
                t.provider,
                schema::PROVIDERS.join(", ")
            )));
        }
        if t.prompt.trim().is_empty() {
            return Err(CoordError::Invalid("the prompt is empty".into()));
        }
        let mut c = self.conn.clone();
        let n: u64 = c.incr(self.keys.task_seq(), 1).await?;
        let id = format!("t-{n}");
        let now = now_ms();
        let mut fields: Vec<(&str, String)> = vec![
            (tf::ID, id.clone()),
            (tf::PROMPT, t.prompt.clone()),
            (tf::PROVIDER, t.provider.clone()),
            (tf::STATUS, status::PENDING.into()),
            (tf::CREATED_AT, now.to_string()),
            (tf::RETRIES, "0".into()),
            (tf::MAX_RETRIES, t.max_retries.to_string()),
        ];
        if let Some(d) = &t.dir {
            fields.push((tf::DIR, d.clone()));
        }
        if let Some(r) = &t.role {
            fields.push((tf::ROLE, r.clone()));
        }
        redis::pipe()
            .atomic()
            .hset_multiple(self.keys.task(&id), &fields)
            .ignore()
            .zadd(self.keys.tasks(), &id, now)
            .ignore()
            .rpush(
                self.keys.task_log(&id),
                format!("{now} submitted for {}", t.provider),
            )
            .ignore()
            .lpush(self.keys.queue(&t.provider), &id)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        self.task(&id).await
    }

    pub async fn task(&self, id: &str) -> Result<TaskRecord> {
        let mut c = self.conn.clone();
        let h: HashMap<String, String> = c.hgetall(self.keys.task(id)).await?;
        TaskRecord::from_hash(&h).ok_or_else(|| CoordError::NoSuchTask(id.to_string()))
    }

    /// Newest first.
    pub async fn list_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>> {
        let mut c = self.conn.clone();
        let stop = if limit == 0 { -1 } else { limit as isize - 1 };
        let ids: Vec<String> = c.zrevrange(self.keys.tasks(), 0, stop).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.task(id));
        }
        let hashes: Vec<HashMap<String, String>> = if ids.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut c).await?
        };
        Ok(hashes.iter().filter_map(TaskRecord::from_hash).collect())
    }

    pub async fn queue_len(&self, provider: &str) -> Result<u64> {
        let mut c = self.conn.clone();
        Ok(c.llen(self.keys.queue(provider)).await?)
    }

    /// Atomically takes the oldest pending task of the first provider queue that has one
    /// and marks it claimed by `agent` (one Lua script: two workers never get the same task).
    pub async fn claim(&self, agent: &str, providers: &[&str]) -> Result<Option<TaskRecord>> {
        let mut c = self.conn.clone();
        let script = redis::Script::new(CLAIM_LUA);
        let mut inv = script.prepare_invoke();
        for p in providers {
            inv.key(self.keys.queue(p));
        }
        inv.arg(agent)
            .arg(now_ms())
            .arg(self.keys.task_key_prefix());
        let id: Option<String> = inv.invoke_async(&mut c).await?;
        match id {
            Some(id) => {
                self.log(&id, &format!("claimed by {agent}")).await?;
                Ok(Some(self.task(&id).await?))
            }
            None => Ok(None),
        }
    }

    async fn set_if_assigned(
        &self,
        id: &str,
        agent: &str,
        expected: &str,
        fields: &[(&str, String)],
    ) -> Result<bool> {
        let mut c = self.conn.clone();
        let script = redis::Script::new(SET_IF_ASSIGNED_LUA);
        let mut inv = script.prepare_invoke();
        inv.key(self.keys.task(id)).arg(agent).arg(expected);
        for (k, v) in fields {
            inv.arg(*k).arg(v);
        }
        let n: i64 = inv.invoke_async(&mut c).await?;
        Ok(n == 1)
    }

    /// claimed → running.
    pub async fn start(&self, id: &str, agent: &str) -> Result<bool> {
        self.set_if_assigned(
            id,
            agent,
            status::CLAIMED,
            &[
                (tf::STATUS, status::RUNNING.into()),
                (tf::STARTED_AT, now_ms().to_string()),
            ],
        )
        .await
    }

    /// running → done, with the result and what it cost.
    pub async fn complete(&self, id: &str, agent: &str, outcome: &RunRecord) -> Result<bool> {
        let mut fields = vec![
            (tf::STATUS, status::DONE.to_string()),
            (tf::FINISHED_AT, now_ms().to_string()),
            (tf::RESULT, outcome.result.clone()),
            (tf::ERROR, String::new()),
        ];
        outcome.push_fields(&mut fields);
        self.set_if_assigned(id, agent, status::RUNNING, &fields)
            .await
    }

    /// A failed run: requeued while retries < max_retries, else `failed`.
    pub async fn fail(&self, id: &str, agent: &str, error: &str) -> Result<FailOutcome> {
        let task = self.task(id).await?;
        let mut c = self.conn.clone();
        let script = redis::Script::new(FAIL_LUA);
        let r: String = script
            .key(self.keys.task(id))
            .key(self.keys.queue(&task.provider))
            .arg(id)
            .arg(agent)
            .arg(now_ms())
            .arg(error)
            .invoke_async(&mut c)
            .await?;
        let outcome = match r.as_str() {
            "requeued" => FailOutcome::Requeued,
            "failed" => FailOutcome::Failed,
            _ => FailOutcome::Ignored,
        };
        if outcome != FailOutcome::Ignored {
            self.log(id, &format!("run by {agent} failed ({outcome:?}): {error}"))
                .await?;
        }
        Ok(outcome)
    }

    /// Stores the tokens/cost of a failed run on the record (the run still cost money).
    pub async fn record_run_usage(&self, id: &str, run: &RunRecord) -> Result<()> {
        let mut fields = Vec::new();
        run.push_fields(&mut fields);
        if fields.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let _: () = c.hset_multiple(self.keys.task(id), &fields).await?;
        Ok(())
    }

    pub async fn log(&self, id: &str, line: &str) -> Result<()> {
        let mut c = self.conn.clone();
        let _: () = c
            .rpush(self.keys.task_log(id), format!("{} {line}", now_ms()))
            .await?;
        Ok(())
    }

    /// Log lines, oldest first; each starts with its unix-ms timestamp.
    pub async fn logs(&self, id: &str) -> Result<Vec<String>> {
        let mut c = self.conn.clone();
        let exists: bool = c.exists(self.keys.task(id)).await?;
        if !exists {
            return Err(CoordError::NoSuchTask(id.to_string()));
        }
        Ok(c.lrange(self.keys.task_log(id), 0, -1).await?)
    }

    /// Polls until the task is done or failed, or the timeout passes (then returns the
    /// record as it is).
    pub async fn wait_for(&self, id: &str, timeout: Duration) -> Result<TaskRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.task(id).await?;
            if t.is_finished() || Instant::now() >= deadline {
                return Ok(t);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // ----------------------------------------------------------------- agents

    pub async fn register(&self, a: &AgentRecord) -> Result<()> {
        let now = now_ms();
        let mut fields: Vec<(&str, String)> = vec![
            (af::ID, a.id.clone()),
            (
                af::STATUS,
                a.status.clone().unwrap_or_else(|| "idle".into()),
            ),
            (af::REGISTERED_AT, now.to_string()),
            (af::HEARTBEAT_AT, now.to_string()),
        ];
        for (k, v) in [
            (af::PROVIDER, a.provider.clone()),
            (af::HOST, a.host.clone()),
            (af::PID, a.pid.map(|p| p.to_string())),
            (af::LOCATION, a.location.clone()),
        ] {
            if let Some(v) = v {
                fields.push((k, v));
            }
        }
        let mut c = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(self.keys.agent(&a.id))
            .ignore()
            .hset_multiple(self.keys.agent(&a.id), &fields)
            .ignore()
            .zadd(self.keys.agents(), &a.id, now)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Heartbeat: integer ms in the agent hash and as the registry score.
    pub async fn heartbeat(
        &self,
        agent: &str,
        status: &str,
        current_task: Option<&str>,
    ) -> Result<i64> {
        let now = now_ms();
        let mut c = self.conn.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(
                self.keys.agent(agent),
                &[
                    (af::HEARTBEAT_AT, now.to_string()),
                    (af::STATUS, status.to_string()),
                    (af::CURRENT_TASK, current_task.unwrap_or("").to_string()),
                ],
            )
            .ignore()
            .zadd(self.keys.agents(), agent, now)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        Ok(now)
    }

    pub async fn deregister(&self, agent: &str) -> Result<()> {
        let mut c = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(self.keys.agent(agent))
            .ignore()
            .zrem(self.keys.agents(), agent)
            .ignore()
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Registered agents, most recent heartbeat first.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>> {
        let mut c = self.conn.clone();
        let ids: Vec<(String, f64)> = c.zrevrange_withscores(self.keys.agents(), 0, -1).await?;
        let now = now_ms();
        let mut out = Vec::new();
        for (id, _) in ids {
            let h: HashMap<String, String> = c.hgetall(self.keys.agent(&id)).await?;
            let get = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
            let int = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
            let hb = int(af::HEARTBEAT_AT);
            out.push(AgentRecord {
                id: id.clone(),
                provider: get(af::PROVIDER),
                host: get(af::HOST),
                pid: get(af::PID).and_then(|v| v.parse().ok()),
                status: get(af::STATUS),
                current_task: get(af::CURRENT_TASK),
                location: get(af::LOCATION),
                registered_at: int(af::REGISTERED_AT),
                heartbeat_at: hb,
                heartbeat_age_ms: hb.map(|h| now - h),
            });
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- inboxes

    pub async fn send(&self, to: &str, msg: &Message) -> Result<u64> {
        let mut c = self.conn.clone();
        let json =
            serde_json::to_string(msg).map_err(|e| CoordError::Invalid(format!("message: {e}")))?;
        Ok(c.lpush(self.keys.inbox(to), json).await?)
    }

    /// Takes every waiting message, oldest first. Unreadable entries are skipped.
    pub async fn take_messages(&self, agent: &str) -> Result<Vec<Message>> {
        let mut c = self.conn.clone();
        let mut out = Vec::new();
        loop {
            let m: Option<String> = c.rpop(self.keys.inbox(agent), None).await?;
            let Some(m) = m else { break };
            if let Ok(msg) = serde_json::from_str::<Message>(&m) {
                out.push(msg);
            }
        }
        Ok(out)
    }

    /// Messages waiting, oldest first, without taking them.
    pub async fn peek_messages(&self, agent: &str) -> Result<Vec<Message>> {
        let mut c = self.conn.clone();
        let raw: Vec<String> = c.lrange(self.keys.inbox(agent), 0, -1).await?;
        Ok(raw
            .iter()
            .rev()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect())
    }

    // ------------------------------------------------------------------ usage

    /// Adds a run's tokens (per model) and outcome to the agent's counters.
    pub async fn add_usage(&self, agent: &str, run: &RunRecord, ok: bool) -> Result<()> {
        let key = self.keys.usage(agent);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (model, t) in &run.by_model {
            for (cat, v) in [
                ("input", t.input),
                ("output", t.output),
                ("cache_read", t.cache_read),
                ("cache_write", t.cache_write),
            ] {
                if v > 0 {
                    pipe.hincr(&key, uf::token_field(model, cat), v).ignore();
                }
            }
        }
        pipe.hincr(&key, if ok { uf::TASKS_DONE } else { uf::TASKS_FAILED }, 1)
            .ignore();
        if let Some(c) = run.reported_cost_usd {
            pipe.hincr(&key, uf::REPORTED_COST_MICRO_USD, usd_to_micro(c))
                .ignore();
        }
        pipe.sadd(self.keys.usage_agents(), agent).ignore();
        let mut c = self.conn.clone();
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    pub async fn usage(&self) -> Result<Vec<AgentUsage>> {
        let mut c = self.conn.clone();
        let mut agents: Vec<String> = c.smembers(self.keys.usage_agents()).await?;
        agents.sort();
        let mut out = Vec::new();
        for a in agents {
            let h: HashMap<String, i64> = c.hgetall(self.keys.usage(&a)).await?;
            let mut u = AgentUsage {
                agent: a.clone(),
                ..Default::default()
            };
            for (field, v) in &h {
                let v = u64::try_from(*v).unwrap_or(0);
                if let Some((model, cat)) = uf::parse_token_field(field) {
                    let t = u.by_model.entry(model.to_string()).or_default();
                    match cat {
                        "input" => t.input += v,
                        "output" => t.output += v,
                        "cache_read" => t.cache_read += v,
                        _ => t.cache_write += v,
                    }
                } else if field == uf::TASKS_DONE {
                    u.tasks_done = v;
                } else if field == uf::TASKS_FAILED {
                    u.tasks_failed = v;
                } else if field == uf::REPORTED_COST_MICRO_USD {
                    u.reported_cost_usd = Some(v as f64 / 1e6);
                }
            }
            out.push(u);
        }
        Ok(out)
    }

    /// Per-agent, per-model costs from the real counters priced with `prices`.
    pub async fn costs(&self, prices: &PriceTable) -> Result<CostReport> {
        let mut report = CostReport {
            price_source: prices.source().to_string(),
            ..Default::default()
        };
        for u in self.usage().await? {
            for (model, tokens) in &u.by_model {
                let cost = prices.cost(model, tokens);
                match cost {
                    Some(c) => report.total_usd += c,
                    None => {
                        if !report.unpriced_models.contains(model) {
                            report.unpriced_models.push(model.clone());
                        }
                    }
                }
                report.lines.push(CostLine {
                    agent: u.agent.clone(),
                    model: model.clone(),
                    tokens: *tokens,
                    cost_usd: cost,
                });
            }
        }
        Ok(report)
    }
}

/// What one run of an agent produced (tokens per model, cost).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunRecord {
    pub result: String,
    pub by_model: BTreeMap<String, TokenUsage>,
    pub cost_usd: Option<f64>,
    pub reported_cost_usd: Option<f64>,
}

impl RunRecord {
    pub fn total_tokens(&self) -> TokenUsage {
        let mut t = TokenUsage::default();
        for u in self.by_model.values() {
            t.input += u.input;
            t.output += u.output;
            t.cache_read += u.cache_read;
            t.cache_write += u.cache_write;
        }
        t
    }

    /// The main model: the one with the most output tokens.
    pub fn main_model(&self) -> Option<&str> {
        self.by_model
            .iter()
            .max_by_key(|(_, t)| (t.output, t.total()))
            .map(|(m, _)| m.as_str())
    }

    /// Prices every model with `prices`; unknown if any model with tokens is unpriced.
    pub fn price(&mut self, prices: &PriceTable) {
        let mut total = 0.0;
        for (m, t) in &self.by_model {
            match prices.cost(m, t) {
                Some(c) => total += c,
                None => {
                    self.cost_usd = None;
                    return;
                }
            }
        }
        self.cost_usd = if self.by_model.is_empty() {
            None
        } else {
            Some(total)
        };
    }

    fn push_fields(&self, fields: &mut Vec<(&'static str, String)>) {
        if !self.by_model.is_empty() {
            let t = self.total_tokens();
            if let Ok(j) = serde_json::to_string(&t) {
                fields.push((tf::TOKENS, j));
            }
        }
        if let Some(m) = self.main_model() {
            fields.push((tf::MODEL, m.to_string()));
        }
        if let Some(c) = self.cost_usd {
            fields.push((tf::COST_MICRO_USD, usd_to_micro(c).to_string()));
        }
        if let Some(c) = self.reported_cost_usd {
            fields.push((tf::REPORTED_COST_MICRO_USD, usd_to_micro(c).to_string()));
        }
    }
}

fn usd_to_micro(usd: f64) -> i64 {
    if usd.is_finite() {
        (usd * 1e6).round() as i64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn unknown_model_makes_the_run_cost_unknown() {
        let prices = PriceTable::bundled();
        let mut r = RunRecord::default();
        r.by_model.insert(
            "claude-sonnet-4-5".into(),
            TokenUsage {
                input: 1000,
                output: 100,
                cache_read: 0,
                cache_write: 0,
            },
        );
        r.price(&prices);
        let known = r.cost_usd.expect("sonnet is priced");
        let p = prices.lookup("claude-sonnet-4-5").expect("priced");
        assert!((known - (1000.0 * p.input + 100.0 * p.output)).abs() < 1e-12);
        r.by_model.insert(
            "no-such-model-xyz".into(),
            TokenUsage {
                input: 1,
                ..Default::default()
            },
        );
        r.price(&prices);
        assert_eq!(r.cost_usd, None);
    }
}
