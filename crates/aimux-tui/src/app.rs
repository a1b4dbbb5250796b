//! The application state and `update`: every input, tick and backend result arrives as an
//! [`AppEvent`]; `update` changes state and queues [`Request`]s for the worker. Drawing
//! (`ui::draw`) only reads this state.

use crate::backend::CostScope;
use crate::command::{self, BarOutcome, Command, CommandBar};
use crate::config::TuiConfig;
use crate::event::{AppEvent, Request, Response};
use crate::input::{InputOutcome, TextInput};
use crate::keymap::{Action, Key, Keymap, Scope};
use crate::theme::Theme;
use crate::views::{
    agents, attach, costs, health, launcher, search_results, sessions, tasks, teams, trace,
};
use aimux_engine::annotations::Label;
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

/// Tick period: spinner frames and the refresh clock.
pub const TICK_MS: u64 = 250;
/// How long a message stays in the bottom line.
const FLASH_TICKS: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Agents,
    Sessions,
    Costs,
    Trace,
    Teams,
    Health,
    Tasks,
}

impl View {
    pub fn scope(self) -> Scope {
        match self {
            View::Agents => Scope::Agents,
            View::Sessions => Scope::Sessions,
            View::Costs => Scope::Costs,
            View::Trace => Scope::Trace,
            View::Teams => Scope::Teams,
            View::Health => Scope::Health,
            View::Tasks => Scope::Tasks,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Agents => "Agents",
            View::Sessions => "Sessions",
            View::Costs => "Costs",
            View::Trace => "Trace",
            View::Teams => "Teams",
            View::Health => "Health",
            View::Tasks => "Tasks",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Command(CommandBar),
    Filter(TextInput),
    Search(TextInput),
}

#[derive(Debug, Clone)]
pub enum Popup {
    Help {
        scroll: usize,
    },
    ConfirmKill {
        pid: u32,
        name: String,
        provider: String,
        dir: String,
        processes: usize,
    },
    /// `x` on a remote agent: stop its pod?
    ConfirmKillPod {
        pod: String,
        provider: String,
        /// What stopping it means (a session is deleted; a worker's Deployment shrinks).
        effect: String,
    },
    Note {
        turn_index: usize,
        turn_number: u32,
        label: Label,
        input: TextInput,
    },
    /// Enter on an agent that does not run in tmux: trace only, or resume as a second
    /// process in a new tmux session.
    NotInTmux {
        pid: u32,
        provider: String,
        session_id: Option<String>,
    },
    /// `d` in the sessions view: move the session's files to aimux's trash?
    ConfirmTrash {
        session_id: String,
        provider: String,
        title: String,
        files: Vec<String>,
    },
    /// Enter in the tasks view: the task in `tasks.detail`.
    TaskDetail,
    /// `n` in the tasks view: provider (index into `command::TASK_PROVIDERS`) and prompt.
    NewTask {
        provider: usize,
        input: TextInput,
    },
}

#[derive(Debug, Clone)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub until_tick: u64,
}

pub struct App {
    /// `e` was pressed in the trace: the next key picks the export (`o` OTLP, `j` JSONL).
    pub export_chord: bool,
    pub keymap: Keymap,
    pub theme: Theme,
    pub refresh_ticks: u64,
    pub now: DateTime<Utc>,
    /// Advance `now` from the system clock on ticks (off in tests: fixed time).
    pub live_clock: bool,
    pub size: (u16, u16),
    pub home_dir: Option<String>,
    pub view: View,
    pub stack: Vec<View>,
    pub mode: Mode,
    pub popup: Option<Popup>,
    pub flash: Option<Flash>,
    pub tick: u64,
    pub should_quit: bool,
    pub agents: agents::State,
    pub sessions: sessions::State,
    pub costs: costs::State,
    pub trace: trace::State,
    pub teams: teams::State,
    pub health: health::State,
    pub tasks: tasks::State,
    /// The split view's live terminal, while attached.
    pub attach: Option<attach::State>,
    /// The `:new` launcher, while open.
    pub launcher: Option<launcher::State>,
    /// The event loop's sender (for the attached terminal's output thread).
    pub events: Option<std::sync::mpsc::Sender<AppEvent>>,
    outbox: Vec<Request>,
}

impl App {
    pub fn new(config: &TuiConfig, no_color: bool) -> App {
        let (keymap, theme, warnings) = config.build(no_color);
        let mut app = App {
            export_chord: false,
            keymap,
            theme,
            refresh_ticks: (config.refresh_ms() / TICK_MS).max(1),
            now: Utc::now(),
            live_clock: true,
            size: (80, 24),
            home_dir: None,
            view: View::Agents,
            stack: Vec::new(),
            mode: Mode::Normal,
            popup: None,
            flash: None,
            tick: 0,
            should_quit: false,
            agents: agents::State::default(),
            sessions: sessions::State::default(),
            costs: costs::State::default(),
            trace: trace::State::default(),
            teams: teams::State::default(),
            health: health::State::default(),
            tasks: tasks::State::default(),
            attach: None,
            launcher: None,
            events: None,
            outbox: Vec::new(),
        };
        if !warnings.is_empty() {
            let first = warnings.first().cloned().unwrap_or_default();
            let text = if warnings.len() == 1 {
                first
            } else {
                format!("{first} (+{} more config warnings)", warnings.len() - 1)
            };
            app.flash_for(text, true, FLASH_TICKS * 3);
        }
        app
    }

    /// First requests: the agents list.
    pub fn start(&mut self) {
        self.request(Request::Agents);
    }

    pub fn scope(&self) -> Scope {
        self.view.scope()
    }

    /// Requests queued since the last call, for the worker.
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.outbox)
    }

    /// Queues a request and marks the view it feeds as loading.
    pub fn request(&mut self, r: Request) {
        match &r {
            Request::Agents => self.agents.loading = true,
            Request::Sessions => self.sessions.loading = true,
            Request::Costs { .. } => self.costs.loading = true,
            Request::Trace { .. } => self.trace.loading = true,
            Request::Health => self.health.loading = true,
            Request::Teams => self.teams.loading = true,
            Request::Annotate { .. } | Request::Kill { .. } => {}
            Request::Spawn { .. } | Request::Resume { .. } | Request::Send { .. } => {}
            Request::Search { .. } | Request::Trash { .. } | Request::Export { .. } => {}
            Request::Tasks => self.tasks.loading = true,
            Request::TaskDetail { id } => {
                if let Some(d) = self.tasks.detail.as_mut().filter(|d| d.id == *id) {
                    d.loading = true;
                }
            }
            Request::SubmitTask { .. } => {}
            Request::SpawnRemote { .. }
            | Request::AttachRemote { .. }
            | Request::KillPod { .. } => {}
        }
        if !self.outbox.iter().any(|q| r.coalesces_with(q) && *q == r) {
            self.outbox.push(r);
        }
    }

    pub fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.flash_for(text.into(), error, FLASH_TICKS);
    }

    fn flash_for(&mut self, text: String, error: bool, ticks: u64) {
        self.flash = Some(Flash {
            text,
            error,
            until_tick: self.tick + ticks,
        });
    }

    /// Rows of the body, for paging.
    pub fn page(&self) -> usize {
        usize::from(self.size.1).saturating_sub(8).max(1)
    }

    pub fn spinner(&self) -> &'static str {
        const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        FRAMES
            .get((self.tick % FRAMES.len() as u64) as usize)
            .copied()
            .unwrap_or("*")
    }

    /// True while any request is out.
    pub fn busy(&self) -> bool {
        self.agents.loading
            || self.sessions.loading
            || self.costs.loading
            || self.trace.loading
            || self.health.loading
            || self.teams.loading
            || self.tasks.loading
            || self.tasks.detail.as_ref().is_some_and(|d| d.loading)
            || self.sessions.search.as_ref().is_some_and(|s| s.loading)
    }

    /// Goes to a view (remembering where we came from) and loads its data.
    pub fn switch(&mut self, view: View) {
        if view != self.view {
            self.stack.push(self.view);
            if self.stack.len() > 32 {
                self.stack.remove(0);
            }
            self.view = view;
        }
        self.mode = Mode::Normal;
        self.load_view();
    }

    fn load_view(&mut self) {
        match self.view {
            View::Agents => self.request(Request::Agents),
            View::Sessions => self.request(Request::Sessions),
            View::Costs => self.request(Request::Costs {
                scope: self.costs.scope,
                by: self.costs.by,
            }),
            View::Trace => {
                if let Some(id) = self.trace.session_id.clone() {
                    self.request(Request::Trace { session_id: id });
                }
            }
            View::Teams => {
                self.request(Request::Teams);
                self.request(Request::Agents);
            }
            View::Health => self.request(Request::Health),
            View::Tasks => self.request(Request::Tasks),
        }
    }

    pub fn open_trace(&mut self, session_id: String) {
        self.trace.open(session_id.clone());
        self.switch(View::Trace);
    }

    fn back(&mut self) {
        if let Some(v) = self.stack.pop() {
            self.view = v;
            self.load_view();
        }
    }

    /// Applies one event. Returns true when the screen should be redrawn.
    pub fn update(&mut self, event: AppEvent) -> bool {
        match event {
            AppEvent::Key(key) => {
                if key.kind == KeyEventKind::Release {
                    return false;
                }
                self.on_key(key);
                true
            }
            AppEvent::Mouse(m) => self.on_mouse(m),
            AppEvent::Resize(w, h) => {
                self.size = (w, h);
                let width = attach::trace_width(self);
                self.trace.relayout(&self.theme, width);
                attach::on_resize(self);
                tasks::relayout(self);
                true
            }
            AppEvent::Terminal => {
                attach::on_terminal_event(self);
                true
            }
            AppEvent::Tick => self.on_tick(),
            AppEvent::EngineUpdate => {
                self.refresh_live(true);
                false
            }
            AppEvent::Response(r) => {
                self.on_response(*r);
                true
            }
        }
    }

    fn on_tick(&mut self) -> bool {
        self.tick += 1;
        if self.live_clock {
            self.now = Utc::now();
        }
        let mut redraw = self.busy();
        if let Some(f) = &self.flash
            && self.tick >= f.until_tick
        {
            self.flash = None;
            redraw = true;
        }
        if self.tick.is_multiple_of(self.refresh_ticks) {
            self.refresh_live(false);
        }
        // Ages move once a second.
        redraw || self.tick.is_multiple_of(4)
    }

    /// Periodic / engine-driven refresh of what is visible.
    fn refresh_live(&mut self, engine_changed: bool) {
        if !self.agents.loading {
            self.request(Request::Agents);
        }
        match self.view {
            View::Costs if self.costs.scope == CostScope::Live && !self.costs.loading => {
                self.request(Request::Costs {
                    scope: self.costs.scope,
                    by: self.costs.by,
                });
            }
            View::Sessions if engine_changed && !self.sessions.loading => {
                self.request(Request::Sessions)
            }
            // The coordination store is asked on the refresh clock only, and only while
            // the view is shown.
            View::Tasks if !engine_changed => tasks::refresh(self),
            View::Trace if !self.trace.loading => {
                if let Some(id) = self.trace.needs_tail(&self.agents, engine_changed) {
                    self.request(Request::Trace { session_id: id });
                }
            }
            _ => {}
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> bool {
        if self.popup.is_some() {
            return false;
        }
        let action = match m.kind {
            MouseEventKind::ScrollUp => Action::Up,
            MouseEventKind::ScrollDown => Action::Down,
            _ => return false,
        };
        for _ in 0..3 {
            self.view_action(action);
        }
        true
    }

    fn on_response(&mut self, r: Response) {
        match r {
            Response::Agents(res) => {
                self.agents.loading = false;
                match res {
                    Ok(s) => {
                        self.agents.error = None;
                        self.agents.set(s);
                    }
                    Err(e) => self.agents.error = Some(e),
                }
                if self.view == View::Trace
                    && !self.trace.loading
                    && let Some(id) = self.trace.needs_tail(&self.agents, false)
                {
                    self.request(Request::Trace { session_id: id });
                }
            }
            Response::Sessions(res) => {
                self.sessions.loading = false;
                match res {
                    Ok(rows) => {
                        self.sessions.error = None;
                        self.sessions.set(rows);
                    }
                    Err(e) => self.sessions.error = Some(e),
                }
            }
            Response::Costs { scope, by, result } => {
                if (scope, by) != (self.costs.scope, self.costs.by) {
                    // An answer to an earlier question; the current one is still out.
                    return;
                }
                self.costs.loading = false;
                match result {
                    Ok(report) => {
                        self.costs.error = None;
                        self.costs.set(scope, by, report);
                    }
                    Err(e) => self.costs.error = Some(e),
                }
            }
            Response::Trace { session_id, result } => {
                if self.trace.session_id.as_deref() != Some(session_id.as_str()) {
                    return;
                }
                self.trace.loading = false;
                match result {
                    Ok(t) => {
                        self.trace.error = None;
                        // A prefix (`:trace 3b22`) resolves to the full id.
                        self.trace.session_id = Some(t.session.id.clone());
                        let width = attach::trace_width(self);
                        self.trace.set(*t, &self.theme, width);
                        trace::reveal(self);
                    }
                    Err(e) => self.trace.error = Some(e),
                }
            }
            Response::Annotated {
                session_id, result, ..
            } => {
                if let Err(e) = result {
                    self.flash(format!("annotation not saved: {e}"), true);
                    if self.trace.session_id.as_deref() == Some(session_id.as_str()) {
                        self.request(Request::Trace { session_id });
                    }
                }
            }
            Response::Killed { pid, result } => {
                match result {
                    Ok(msg) => self.flash(msg, false),
                    Err(e) => self.flash(format!("kill {pid} failed: {e}"), true),
                }
                self.request(Request::Agents);
            }
            Response::Health(res) => {
                self.health.loading = false;
                match res {
                    Ok(h) => {
                        self.health.error = None;
                        self.health.report = Some(h);
                    }
                    Err(e) => self.health.error = Some(e),
                }
            }
            Response::Acted(res) => {
                match res {
                    Ok(msg) => self.flash(msg, false),
                    Err(e) => self.flash(e, true),
                }
                self.request(Request::Agents);
            }
            Response::Searched { query, result } => search_results::on_result(self, query, result),
            Response::Trashed { session_id, result } => {
                match result {
                    Ok(msg) => self.flash(msg, false),
                    Err(e) => self.flash(format!("{session_id} not moved: {e}"), true),
                }
                self.request(Request::Sessions);
            }
            Response::Tasks(res) => tasks::on_list(self, res),
            Response::TaskDetail { id, result } => tasks::on_detail(self, id, result),
            Response::TaskSubmitted { provider, result } => {
                tasks::on_submitted(self, provider, result)
            }
            Response::RemoteAttach {
                pod,
                provider,
                result,
            } => attach::open_remote(self, &pod, &provider, result),
            Response::Teams(res) => {
                self.teams.loading = false;
                match res {
                    Ok(t) => {
                        self.teams.error = None;
                        self.teams.set(t);
                    }
                    Err(e) => self.teams.error = Some(e),
                }
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) {
        if self.popup.is_some() {
            self.popup_key(key);
            return;
        }
        if self.launcher.is_some() {
            launcher::on_key(self, &key);
            return;
        }
        if self.attach.is_some() && matches!(self.mode, Mode::Normal) && attach::on_key(self, &key)
        {
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => {}
            Mode::Command(mut bar) => {
                match bar.handle(&key) {
                    BarOutcome::Continue => self.mode = Mode::Command(bar),
                    BarOutcome::Cancel => {}
                    BarOutcome::Run(line) => self.run_command(&line),
                }
                return;
            }
            Mode::Filter(mut input) => {
                match input.handle(&key) {
                    // In the history view Enter searches the full text of every session;
                    // in the sessions view it keeps the filter (as in every list).
                    InputOutcome::Submit
                        if self.view == View::Sessions && self.sessions.history =>
                    {
                        search_results::start(self, input.text())
                    }
                    InputOutcome::Submit => {}
                    InputOutcome::Cancel => self.set_filter(String::new()),
                    InputOutcome::Changed => {
                        self.set_filter(input.text());
                        self.mode = Mode::Filter(input);
                    }
                    _ => self.mode = Mode::Filter(input),
                }
                return;
            }
            Mode::Search(mut input) => {
                match input.handle(&key) {
                    InputOutcome::Submit => trace::jump_to_match(self, true, true),
                    InputOutcome::Cancel => trace::set_search(self, String::new()),
                    InputOutcome::Changed => {
                        trace::set_search(self, input.text());
                        self.mode = Mode::Search(input);
                    }
                    _ => self.mode = Mode::Search(input),
                }
                return;
            }
        }
        if self.view == View::Trace && self.export_key(&key) {
            return;
        }
        let Some(action) = self.keymap.action(self.scope(), Key::from_event(&key)) else {
            return;
        };
        self.action(action);
    }

    /// `e o` exports the open trace as an OTLP trace, `e j` as JSONL.
    fn export_key(&mut self, key: &KeyEvent) -> bool {
        use crossterm::event::{KeyCode, KeyModifiers};
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        if std::mem::take(&mut self.export_chord) {
            match key.code {
                KeyCode::Char('o') if plain => self.export(true),
                KeyCode::Char('j') if plain => self.export(false),
                _ => self.flash("export cancelled", false),
            }
            return true;
        }
        if key.code == KeyCode::Char('e') && plain {
            self.export_chord = true;
            self.flash(
                "export: o = OTLP trace (export.endpoint), j = JSONL file",
                false,
            );
            return true;
        }
        false
    }

    fn set_filter(&mut self, text: String) {
        match self.view {
            View::Agents => self.agents.set_filter(text),
            View::Sessions => self.sessions.set_filter(text),
            View::Tasks => self.tasks.set_filter(text),
            _ => {}
        }
    }

    /// Runs one action (from a key, or a test).
    pub fn action(&mut self, action: Action) {
        match action {
            Action::Quit => self.should_quit = true,
            Action::Help => self.popup = Some(Popup::Help { scroll: 0 }),
            Action::Command => self.mode = Mode::Command(CommandBar::default()),
            Action::Back => {
                let had_filter = match self.view {
                    View::Agents => !self.agents.filter.is_empty(),
                    View::Sessions => {
                        !self.sessions.filter.is_empty() || self.sessions.search.is_some()
                    }
                    View::Trace => !self.trace.search.is_empty(),
                    View::Tasks => !self.tasks.filter.is_empty(),
                    _ => false,
                };
                if had_filter {
                    if self.view == View::Trace {
                        trace::set_search(self, String::new());
                    } else {
                        self.set_filter(String::new());
                    }
                } else {
                    self.back();
                }
            }
            Action::Health => self.switch(View::Health),
            Action::Tasks => self.switch(View::Tasks),
            Action::Refresh => {
                self.load_view();
                if self.view != View::Agents {
                    self.request(Request::Agents);
                }
            }
            Action::Filter => {
                let current = match self.view {
                    View::Agents => self.agents.filter.clone(),
                    View::Sessions => self.sessions.filter.clone(),
                    View::Tasks => self.tasks.filter.clone(),
                    _ => return,
                };
                self.mode = Mode::Filter(TextInput::new(&current));
            }
            Action::Search => {
                self.mode = Mode::Search(TextInput::new(&self.trace.search.clone()));
            }
            Action::Open if self.view == View::Agents => attach::open_selected(self, false),
            Action::Attach if self.view == View::Agents => attach::open_selected(self, true),
            Action::Resume => match self.sessions.selected_row() {
                Some(s) if self.view == View::Sessions => {
                    let session_id = s.id.clone();
                    self.flash(
                        format!("resuming {session_id} in a new tmux session…"),
                        false,
                    );
                    self.request(Request::Resume {
                        session_id,
                        second: false,
                    });
                }
                _ => self.flash("select a session to resume", true),
            },
            other => self.view_action(other),
        }
    }

    fn view_action(&mut self, action: Action) {
        match self.view {
            View::Agents => agents::on_action(self, action),
            View::Sessions => sessions::on_action(self, action),
            View::Costs => costs::on_action(self, action),
            View::Trace => trace::on_action(self, action),
            View::Teams => teams::on_action(self, action),
            View::Health => health::on_action(self, action),
            View::Tasks => tasks::on_action(self, action),
        }
    }

    pub fn run_command(&mut self, line: &str) {
        match command::parse(line) {
            Ok(Command::Agents) => self.switch(View::Agents),
            Ok(Command::Costs) => self.switch(View::Costs),
            Ok(Command::Sessions) => {
                self.sessions.history = false;
                self.switch(View::Sessions);
            }
            Ok(Command::History) => {
                self.sessions.history = true;
                self.sessions.sort = sessions::Sort::Recent;
                self.sessions.resort();
                self.switch(View::Sessions);
            }
            Ok(Command::Teams) => self.switch(View::Teams),
            Ok(Command::Health) => self.switch(View::Health),
            Ok(Command::Trace(Some(id))) => self.open_trace(id),
            Ok(Command::Trace(None)) => match self.selected_session() {
                Some(id) => self.open_trace(id),
                None => self.flash(
                    "select an agent or session first, or give :trace <session-id>",
                    true,
                ),
            },
            Ok(Command::Help) => self.popup = Some(Popup::Help { scroll: 0 }),
            Ok(Command::Quit) => self.should_quit = true,
            Ok(Command::New) => launcher::open(self),
            Ok(Command::Send(text)) => {
                let pid = match self.view {
                    View::Agents => self.agents.selected_agent().map(|a| a.pid),
                    _ => self.attach.as_ref().map(|a| a.pid),
                };
                match pid {
                    Some(pid) => self.request(Request::Send { pid, text }),
                    None => self.flash("select an agent first (:agents)", true),
                }
            }
            Ok(Command::Export { otlp }) => self.export(otlp),
            Ok(Command::Tasks) => self.switch(View::Tasks),
            Ok(Command::SubmitTask { provider, prompt }) => tasks::submit(self, provider, prompt),
            Ok(Command::NotAvailable(name)) => {
                self.flash(format!(":{name} is not available in this build yet"), true)
            }
            Err(e) => self.flash(e, true),
        }
    }

    /// Exports the open trace's session, else the selected one.
    pub fn export(&mut self, otlp: bool) {
        match self.selected_session() {
            Some(session_id) => {
                self.flash(
                    if otlp {
                        "exporting as an OTLP trace…"
                    } else {
                        "exporting as JSONL…"
                    },
                    false,
                );
                self.request(Request::Export { session_id, otlp });
            }
            None => self.flash("open a trace or select a session first", true),
        }
    }

    /// The session id behind the selection of the current list view.
    pub fn selected_session(&self) -> Option<String> {
        match self.view {
            View::Agents => self
                .agents
                .selected_agent()
                .and_then(|a| a.session_id.clone()),
            View::Sessions => self.sessions.selected_row().map(|s| s.id.clone()),
            View::Teams => teams::selected_session(self),
            View::Trace => self.trace.session_id.clone(),
            _ => None,
        }
    }

    fn popup_key(&mut self, key: KeyEvent) {
        let Some(popup) = self.popup.take() else {
            return;
        };
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match popup {
            Popup::Help { scroll } => {
                let action = self.keymap.action(Scope::Global, Key::from_event(&key));
                let page = self.page();
                let scroll = match action {
                    Some(Action::Down) => scroll + 1,
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::PageDown) => scroll + page,
                    Some(Action::PageUp) => scroll.saturating_sub(page),
                    Some(Action::Top) => 0,
                    Some(Action::Bottom) => usize::MAX / 2,
                    _ => return, // any other key closes help
                };
                self.popup = Some(Popup::Help { scroll });
            }
            Popup::ConfirmKill { pid, .. }
                if matches!(
                    key.code,
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter
                ) && !ctrl_c =>
            {
                self.request(Request::Kill { pid });
                self.flash(format!("killing {pid}…"), false);
            }
            Popup::ConfirmKill { .. }
                if matches!(
                    key.code,
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q')
                ) || ctrl_c =>
            {
                self.flash("kill cancelled", false);
            }
            p @ Popup::ConfirmKill { .. } => self.popup = Some(p),
            Popup::ConfirmKillPod { pod, .. }
                if matches!(
                    key.code,
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter
                ) && !ctrl_c =>
            {
                self.flash(format!("stopping pod {pod}…"), false);
                self.request(Request::KillPod { pod });
            }
            Popup::ConfirmKillPod { .. }
                if matches!(
                    key.code,
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q')
                ) || ctrl_c =>
            {
                self.flash("kill cancelled", false);
            }
            p @ Popup::ConfirmKillPod { .. } => self.popup = Some(p),
            Popup::ConfirmTrash { session_id, .. }
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) && !ctrl_c =>
            {
                self.flash(format!("moving {session_id} to the trash…"), false);
                self.request(Request::Trash { session_id });
            }
            Popup::ConfirmTrash { .. }
                if matches!(
                    key.code,
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q')
                ) || ctrl_c =>
            {
                self.flash("nothing moved", false);
            }
            p @ Popup::ConfirmTrash { .. } => self.popup = Some(p),
            Popup::NotInTmux { session_id, .. } => match key.code {
                KeyCode::Char('t') | KeyCode::Enter if !ctrl_c => match session_id {
                    Some(id) => self.open_trace(id),
                    None => self.flash("no session found for this agent yet", true),
                },
                KeyCode::Char('r') => match session_id {
                    Some(id) => {
                        self.flash(
                            format!("resuming {id} as a SECOND process in a new tmux session…"),
                            false,
                        );
                        self.request(Request::Resume {
                            session_id: id,
                            second: true,
                        });
                    }
                    None => self.flash("no session to resume for this agent yet", true),
                },
                _ => {}
            },
            Popup::TaskDetail => tasks::detail_key(self, &key),
            Popup::NewTask { provider, input } => tasks::new_task_key(self, &key, provider, input),
            Popup::Note {
                turn_index,
                turn_number,
                mut label,
                mut input,
            } => match input.handle(&key) {
                InputOutcome::Submit => {
                    let note = input.text();
                    let note = note.trim();
                    trace::annotate(
                        self,
                        turn_index,
                        label,
                        (!note.is_empty()).then(|| note.to_string()),
                    );
                }
                InputOutcome::Cancel => {}
                InputOutcome::Complete => {
                    label = match label {
                        Label::Good => Label::Bad,
                        Label::Bad => Label::Waste,
                        _ => Label::Good,
                    };
                    self.popup = Some(Popup::Note {
                        turn_index,
                        turn_number,
                        label,
                        input,
                    });
                }
                _ => {
                    self.popup = Some(Popup::Note {
                        turn_index,
                        turn_number,
                        label,
                        input,
                    })
                }
            },
        }
    }
}
