//! A one-line text input (command bar, filter, search, note). Never logged.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    chars: Vec<char>,
    /// Cursor position in chars.
    cursor: usize,
}

/// What a key did to the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    Changed,
    Moved,
    Submit,
    Cancel,
    Complete,
    Ignored,
}

impl TextInput {
    pub fn new(text: &str) -> TextInput {
        let chars: Vec<char> = text.chars().collect();
        TextInput {
            cursor: chars.len(),
            chars,
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn set(&mut self, text: &str) {
        *self = TextInput::new(text);
    }

    pub fn handle(&mut self, key: &KeyEvent) -> InputOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => InputOutcome::Submit,
            KeyCode::Esc => InputOutcome::Cancel,
            KeyCode::Tab => InputOutcome::Complete,
            KeyCode::Char('c') if ctrl => InputOutcome::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.chars.drain(..self.cursor.min(self.chars.len()));
                self.cursor = 0;
                InputOutcome::Changed
            }
            KeyCode::Char('w') if ctrl => {
                let mut start = self.cursor.min(self.chars.len());
                while start > 0 && self.chars.get(start - 1).is_some_and(|c| c.is_whitespace()) {
                    start -= 1;
                }
                while start > 0
                    && self
                        .chars
                        .get(start - 1)
                        .is_some_and(|c| !c.is_whitespace())
                {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor.min(self.chars.len()));
                self.cursor = start;
                InputOutcome::Changed
            }
            KeyCode::Char('a') if ctrl => {
                self.cursor = 0;
                InputOutcome::Moved
            }
            KeyCode::Char('e') if ctrl => {
                self.cursor = self.chars.len();
                InputOutcome::Moved
            }
            KeyCode::Char(c) if !ctrl => {
                let at = self.cursor.min(self.chars.len());
                self.chars.insert(at, c);
                self.cursor = at + 1;
                InputOutcome::Changed
            }
            KeyCode::Backspace => {
                if self.cursor > 0 && self.cursor <= self.chars.len() {
                    self.chars.remove(self.cursor - 1);
                    self.cursor -= 1;
                    InputOutcome::Changed
                } else {
                    InputOutcome::Ignored
                }
            }
            KeyCode::Delete => {
                if self.cursor < self.chars.len() {
                    self.chars.remove(self.cursor);
                    InputOutcome::Changed
                } else {
                    InputOutcome::Ignored
                }
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                InputOutcome::Moved
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.chars.len());
                InputOutcome::Moved
            }
            KeyCode::Home => {
                self.cursor = 0;
                InputOutcome::Moved
            }
            KeyCode::End => {
                self.cursor = self.chars.len();
                InputOutcome::Moved
            }
            _ => InputOutcome::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits() {
        let mut t = TextInput::new("");
        for c in "helo".chars() {
            t.handle(&key(KeyCode::Char(c)));
        }
        t.handle(&key(KeyCode::Left));
        t.handle(&key(KeyCode::Char('l')));
        assert_eq!(t.text(), "hello");
        t.handle(&key(KeyCode::End));
        t.handle(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "hell");
        t.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(t.text(), "");
        assert_eq!(t.handle(&key(KeyCode::Enter)), InputOutcome::Submit);
    }
}
