//! The backend worker: one thread owns the [`Backend`] and carries out requests one at a
//! time, newest refresh of a kind replacing older queued ones, user actions first. Results
//! go back to the event loop as [`AppEvent::Response`].

use crate::backend::Backend;
use crate::event::{AppEvent, Request, Response};
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

fn text(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// Carries out one request (on the caller's thread).
pub fn execute(backend: &mut dyn Backend, request: Request) -> Response {
    match request {
        Request::Agents => Response::Agents(backend.agents().map_err(text)),
        Request::Sessions => Response::Sessions(backend.sessions().map_err(text)),
        Request::Costs { scope, by } => Response::Costs {
            scope,
            by,
            result: backend.costs(scope, by).map_err(text),
        },
        Request::Trace { session_id } => Response::Trace {
            result: backend.trace(&session_id).map(Box::new).map_err(text),
            session_id,
        },
        Request::Annotate {
            session_id,
            turn,
            turn_id,
            label,
            note,
        } => Response::Annotated {
            result: backend
                .annotate(&session_id, turn, &turn_id, label, note.as_deref())
                .map_err(text),
            session_id,
            turn_id,
            label,
        },
        Request::Kill { pid } => Response::Killed {
            pid,
            result: backend.kill(pid).map_err(text),
        },
        Request::Health => Response::Health(backend.health().map_err(text)),
        Request::Teams => Response::Teams(backend.teams().map_err(text)),
        Request::Spawn { spec } => Response::Acted(backend.spawn(&spec).map_err(text)),
        Request::Resume { session_id, second } => {
            Response::Acted(backend.resume(&session_id, second).map_err(text))
        }
        Request::Send { pid, text: t } => Response::Acted(backend.send(pid, &t).map_err(text)),
        Request::Export { session_id, otlp } => {
            Response::Acted(backend.export(&session_id, otlp).map_err(text))
        }
        Request::Search { query } => Response::Searched {
            result: backend
                .search(&query, crate::views::search_results::LIMIT)
                .map_err(text),
            query,
        },
        Request::Trash { session_id } => Response::Trashed {
            result: backend.trash(&session_id).map_err(text),
            session_id,
        },
        Request::SpawnRemote { provider } => match backend.spawn_remote(&provider) {
            Ok(pod) => Response::RemoteAttach {
                result: backend.remote_attach_argv(&pod).map_err(text),
                pod,
                provider,
            },
            Err(e) => Response::RemoteAttach {
                pod: String::new(),
                provider,
                result: Err(text(e)),
            },
        },
        Request::AttachRemote { pod, provider } => Response::RemoteAttach {
            result: backend.remote_attach_argv(&pod).map_err(text),
            pod,
            provider,
        },
        Request::KillPod { pod } => Response::Acted(backend.kill_pod(&pod).map_err(text)),
        Request::Tasks => Response::Tasks(backend.tasks(crate::views::tasks::LIMIT).map_err(text)),
        Request::TaskDetail { id } => Response::TaskDetail {
            result: backend.task_detail(&id).map(Box::new).map_err(text),
            id,
        },
        Request::SubmitTask { provider, prompt } => Response::TaskSubmitted {
            result: backend.submit_task(&provider, &prompt).map_err(text),
            provider,
        },
    }
}

/// Adds a request to the queue, dropping a queued one it supersedes.
pub fn enqueue(queue: &mut VecDeque<Request>, request: Request) {
    queue.retain(|q| !request.coalesces_with(q));
    queue.push_back(request);
}

/// The next request to carry out: the oldest user action, else the oldest refresh.
pub fn next(queue: &mut VecDeque<Request>) -> Option<Request> {
    match queue.iter().position(Request::is_action) {
        Some(i) => queue.remove(i),
        None => queue.pop_front(),
    }
}

/// Starts the worker thread. It stops when the request sender is dropped or the event
/// receiver is gone.
pub fn spawn(
    mut backend: impl Backend + Send + 'static,
    events: Sender<AppEvent>,
) -> std::io::Result<(Sender<Request>, JoinHandle<()>)> {
    let (tx, rx): (Sender<Request>, Receiver<Request>) = channel();
    if let Some(updates) = backend.updates() {
        let events = events.clone();
        std::thread::Builder::new()
            .name("aimux-tui-updates".into())
            .spawn(move || {
                while updates.recv().is_ok() {
                    // Collapse a burst of signals into one event.
                    while updates.try_recv().is_ok() {}
                    if events.send(AppEvent::EngineUpdate).is_err() {
                        break;
                    }
                }
            })?;
    }
    let handle = std::thread::Builder::new()
        .name("aimux-tui-backend".into())
        .spawn(move || {
            let mut queue = VecDeque::new();
            loop {
                if queue.is_empty() {
                    match rx.recv() {
                        Ok(r) => enqueue(&mut queue, r),
                        Err(_) => return,
                    }
                }
                while let Ok(r) = rx.try_recv() {
                    enqueue(&mut queue, r);
                }
                let Some(request) = next(&mut queue) else {
                    continue;
                };
                let response = execute(&mut backend, request);
                if events.send(AppEvent::Response(Box::new(response))).is_err() {
                    return;
                }
            }
        })?;
    Ok((tx, handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CostScope;
    use aimux_engine::annotations::Label;
    use aimux_engine::costs::GroupBy;

    #[test]
    fn queue_coalesces_refreshes_and_puts_actions_first() {
        let mut q = VecDeque::new();
        enqueue(&mut q, Request::Agents);
        enqueue(
            &mut q,
            Request::Costs {
                scope: CostScope::Live,
                by: GroupBy::Project,
            },
        );
        enqueue(&mut q, Request::Agents);
        enqueue(
            &mut q,
            Request::Costs {
                scope: CostScope::All,
                by: GroupBy::Project,
            },
        );
        let annotate = |id: &str| Request::Annotate {
            session_id: "s".into(),
            turn: 1,
            turn_id: id.into(),
            label: Label::Good,
            note: None,
        };
        enqueue(&mut q, annotate("a"));
        enqueue(&mut q, annotate("b"));
        assert_eq!(q.len(), 4);
        assert_eq!(next(&mut q), Some(annotate("a")));
        assert_eq!(next(&mut q), Some(annotate("b")));
        // The second Agents replaced the first and went to the back.
        assert_eq!(next(&mut q), Some(Request::Agents));
        assert_eq!(
            next(&mut q),
            Some(Request::Costs {
                scope: CostScope::All,
                by: GroupBy::Project
            })
        );
        assert_eq!(next(&mut q), None);
    }
}
