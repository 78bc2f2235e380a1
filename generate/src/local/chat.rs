//! Chat templates. GGUF files carry theirs as Jinja (`tokenizer.chat_template`);
//! [`ChatTemplate`] renders it with minijinja the way transformers' `apply_chat_template`
//! renders it with Python's jinja2 (the same whitespace control, `raise_exception`,
//! `tojson`, and Python's string methods through minijinja-contrib's pycompat), so a
//! model gets the exact prompt format it was trained on, whatever its family.
//!
//! [`ChatFormat`] is the fallback for files without a template (or with one the engine
//! cannot compile): the few formats llama-family models use, recognised from markers in
//! the template or from the architecture and the vocabulary, and rendered by hand.

use serde::{Deserialize, Serialize};

use super::Architecture;
use crate::{Message, Role};

/// A chat prompt format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatFormat {
    /// `<|im_start|>role\n...<|im_end|>\n` (SmolLM2, Qwen2), with the system message
    /// the template adds when the chat has none.
    ChatMl { default_system: Option<String> },
    /// `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>` (Llama 3).
    Llama3,
    /// `[INST] ... [/INST]` with the system message folded into the first user turn
    /// (Mistral, Mixtral).
    Mistral,
    /// `[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]` (Llama 2 chat).
    Llama2,
    /// `<start_of_turn>user\n...<end_of_turn>\n` with the system message folded into
    /// the first user turn and the assistant called `model` (Gemma).
    Gemma,
}

impl ChatFormat {
    /// The format of a model, from its template, architecture and vocabulary.
    pub fn detect(
        template: Option<&str>,
        arch: Architecture,
        has_token: impl Fn(&str) -> bool,
    ) -> Self {
        if let Some(t) = template {
            if t.contains("<|im_start|>") {
                return ChatFormat::ChatMl {
                    default_system: chatml_default_system(t),
                };
            }
            if t.contains("<|start_header_id|>") {
                return ChatFormat::Llama3;
            }
            if t.contains("<<SYS>>") {
                return ChatFormat::Llama2;
            }
            if t.contains("[INST]") {
                return ChatFormat::Mistral;
            }
            if t.contains("<start_of_turn>") {
                return ChatFormat::Gemma;
            }
        }
        if has_token("<start_of_turn>") {
            return ChatFormat::Gemma;
        }
        if arch.defaults_to_chatml() || has_token("<|im_start|>") {
            ChatFormat::ChatMl {
                default_system: None,
            }
        } else if has_token("<|start_header_id|>") {
            ChatFormat::Llama3
        } else {
            ChatFormat::Mistral
        }
    }

    /// Whether the rendered text must follow a beginning-of-sequence token.
    pub fn wants_bos(&self) -> bool {
        !matches!(self, ChatFormat::ChatMl { .. })
    }

    /// The prompt text for `messages`, ending where the assistant's reply begins.
    pub fn render(&self, messages: &[Message]) -> String {
        let mut out = String::new();
        match self {
            ChatFormat::ChatMl { default_system } => {
                if let Some(sys) = default_system
                    && messages.first().is_none_or(|m| m.role != Role::System)
                {
                    out.push_str(&format!("<|im_start|>system\n{sys}<|im_end|>\n"));
                }
                for m in messages {
                    out.push_str(&format!(
                        "<|im_start|>{}\n{}<|im_end|>\n",
                        m.role.as_str(),
                        m.content
                    ));
                }
                out.push_str("<|im_start|>assistant\n");
            }
            ChatFormat::Llama3 => {
                for m in messages {
                    out.push_str(&format!(
                        "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                        m.role.as_str(),
                        m.content.trim()
                    ));
                }
                out.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            ChatFormat::Gemma => {
                let mut system: Option<&str> = None;
                for m in messages {
                    let (role, content) = match m.role {
                        Role::System => {
                            system = Some(&m.content);
                            continue;
                        }
                        Role::User => match system.take() {
                            Some(sys) => ("user", format!("{sys}\n\n{}", m.content)),
                            None => ("user", m.content.clone()),
                        },
                        Role::Assistant => ("model", m.content.clone()),
                    };
                    out.push_str(&format!(
                        "<start_of_turn>{role}\n{}<end_of_turn>\n",
                        content.trim()
                    ));
                }
                out.push_str("<start_of_turn>model\n");
            }
            ChatFormat::Mistral | ChatFormat::Llama2 => {
                let llama2 = *self == ChatFormat::Llama2;
                let mut system: Option<&str> = None;
                let mut first_user = true;
                for m in messages {
                    match m.role {
                        Role::System => system = Some(&m.content),
                        Role::User => {
                            let content = match system.take() {
                                Some(sys) if llama2 => {
                                    format!("<<SYS>>\n{sys}\n<</SYS>>\n\n{}", m.content)
                                }
                                Some(sys) => format!("{sys}\n\n{}", m.content),
                                None => m.content.clone(),
                            };
                            if !first_user && llama2 {
                                out.push_str("<s>");
                            }
                            first_user = false;
                            out.push_str(&format!("[INST] {} [/INST]", content.trim()));
                        }
                        Role::Assistant => {
                            let sep = if llama2 { " " } else { "" };
                            out.push_str(&format!("{sep}{}</s>", m.content.trim()));
                        }
                    }
                }
            }
        }
        out
    }
}

/// The system message a ChatML template inserts when the chat has none, as SmolLM2's
/// does: `'<|im_start|>system\n...<|im_end|>\n'` as a literal inside the template.
fn chatml_default_system(template: &str) -> Option<String> {
    let start = "<|im_start|>system\n";
    let at = template.find(start)? + start.len();
    let rest = &template[at..];
    let end = rest.find("<|im_end|>")?;
    let sys = &rest[..end];
    // A variable (`message['content']`) is no default.
    (!sys.contains("{{") && !sys.contains('\'') && !sys.is_empty()).then(|| sys.to_string())
}

/// A model's own Jinja chat template, compiled once.
#[derive(Debug)]
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    bos_token: String,
    eos_token: String,
}

/// The name the template is stored under in its environment.
const TEMPLATE_NAME: &str = "chat_template";

impl ChatTemplate {
    /// Compile `source` with the texts of the model's BOS and EOS tokens (the
    /// `bos_token` and `eos_token` variables templates use; empty when the model has
    /// none). An error is the template's syntax or a construct minijinja lacks.
    pub fn new(
        source: &str,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
    ) -> std::result::Result<Self, String> {
        let mut env = minijinja::Environment::new();
        // transformers compiles chat templates with both on; they decide the whitespace
        // between turns of most templates.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| describe(&e))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.unwrap_or_default().to_string(),
            eos_token: eos_token.unwrap_or_default().to_string(),
        })
    }

    /// The text of the BOS token the template was given.
    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }

    /// Render `messages`, ending with the header of the assistant's turn when
    /// `add_generation_prompt`. An error is the template's own `raise_exception` (a
    /// role it does not accept, turns that do not alternate) or a failed expression.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> std::result::Result<String, String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| describe(&e))?;
        template
            .render(minijinja::context! {
                messages => messages,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
                add_generation_prompt => add_generation_prompt,
            })
            .map_err(|e| describe(&e))
    }

    /// As [`render`](Self::render), for a chat that the template refuses because of
    /// its system message (Gemma 2's "System role not supported"): then the system
    /// message is put before the first user message's text, as those models' own
    /// documentation says to do.
    pub fn render_folding_system(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> std::result::Result<String, String> {
        let err = match self.render(messages, add_generation_prompt) {
            Ok(text) => return Ok(text),
            Err(e) => e,
        };
        let Some((first, rest)) = messages.split_first() else {
            return Err(err);
        };
        if first.role != Role::System {
            return Err(err);
        }
        let mut folded: Vec<Message> = rest.to_vec();
        match folded.iter_mut().find(|m| m.role == Role::User) {
            Some(user) => user.content = format!("{}\n\n{}", first.content, user.content),
            None => folded.insert(0, Message::user(first.content.clone())),
        }
        self.render(&folded, add_generation_prompt).map_err(|_| err)
    }
}

/// The message of a minijinja error with its causes (a `raise_exception` message is the
/// cause of the render error).
fn describe(e: &minijinja::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `raise_exception(message)`, which Hugging Face templates call to refuse a chat.
fn raise_exception(message: String) -> std::result::Result<minijinja::Value, minijinja::Error> {
    Err(minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        message,
    ))
}

/// `tojson` as transformers defines it: Python's `json.dumps` without ASCII escapes
/// (minijinja's own escapes `<`, `>`, `&` and `'` for HTML), with Python's separators
/// (`", "` and `": "`) and the optional `indent`.
fn tojson(
    value: minijinja::Value,
    kwargs: minijinja::value::Kwargs,
) -> std::result::Result<String, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    let mut out = Vec::new();
    let written = match indent {
        Some(n) => {
            let spaces = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            serde::Serialize::serialize(
                &json,
                &mut serde_json::Serializer::with_formatter(&mut out, fmt),
            )
        }
        None => serde::Serialize::serialize(
            &json,
            &mut serde_json::Serializer::with_formatter(&mut out, PythonSeparators),
        ),
    };
    written.map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    String::from_utf8(out)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// serde_json's compact output with the separators of Python's `json.dumps`.
struct PythonSeparators;

impl serde_json::ser::Formatter for PythonSeparators {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smollm_template_gives_chatml_with_its_default_system() {
        let t = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let f = ChatFormat::detect(Some(t), Architecture::Llama, |_| false);
        assert_eq!(
            f.render(&[Message::user("Hi")]),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            f.render(&[Message::system("S"), Message::user("Hi")]),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn other_formats() {
        let chat = [
            Message::system("S"),
            Message::user("Q"),
            Message::assistant("A"),
            Message::user("R"),
        ];
        assert_eq!(
            ChatFormat::Mistral.render(&chat),
            "[INST] S\n\nQ [/INST]A</s>[INST] R [/INST]"
        );
        assert_eq!(
            ChatFormat::Llama3.render(&chat[..2]),
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        assert_eq!(
            ChatFormat::detect(None, Architecture::Qwen2, |_| false),
            ChatFormat::ChatMl {
                default_system: None
            }
        );
        assert_eq!(
            ChatFormat::detect(None, Architecture::Llama, |t| t == "<|start_header_id|>"),
            ChatFormat::Llama3
        );
        assert_eq!(
            ChatFormat::Gemma.render(&chat),
            "<start_of_turn>user\nS\n\nQ<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>user\nR<end_of_turn>\n<start_of_turn>model\n"
        );
        assert_eq!(
            ChatFormat::detect(None, Architecture::Gemma3, |t| t == "<start_of_turn>"),
            ChatFormat::Gemma
        );
    }
}

/// The templates of `tests/fixtures/chat_templates` against what Python's jinja2 rendered
/// (`make_expected.py` there).
#[cfg(test)]
mod template_tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat_templates")
    }

    #[derive(Deserialize)]
    struct Expected {
        chats: BTreeMap<String, Vec<Message>>,
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        template: String,
        chat: String,
        bos_token: Option<String>,
        eos_token: Option<String>,
        add_generation_prompt: bool,
        rendered: Option<String>,
        error: Option<String>,
    }

    fn expected() -> Expected {
        let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn templates_render_as_jinja2_renders_them() {
        let expected = expected();
        let mut templates = std::collections::BTreeSet::new();
        for case in &expected.cases {
            let source = std::fs::read_to_string(fixtures().join(&case.template)).unwrap();
            let t = ChatTemplate::new(
                &source,
                case.bos_token.as_deref(),
                case.eos_token.as_deref(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", case.template));
            let got = t.render(&expected.chats[&case.chat], case.add_generation_prompt);
            let what = format!(
                "{} {} gen={}",
                case.template, case.chat, case.add_generation_prompt
            );
            match (&case.rendered, &case.error) {
                (Some(want), _) => assert_eq!(got.as_ref(), Ok(want), "{what}"),
                (None, Some(message)) => {
                    let err = got.expect_err(&what);
                    assert!(err.contains(message.as_str()), "{what}: {err}");
                }
                (None, None) => panic!("{what}: fixture has neither output nor error"),
            }
            templates.insert(case.template.clone());
        }
        assert_eq!(
            templates.len(),
            5,
            "SmolLM2, Qwen2.5, Llama 3.2, Gemma 3 and Phi-3: {templates:?}"
        );
    }

    #[test]
    fn smollm2_template_and_the_fallback_agree() {
        let source = std::fs::read_to_string(fixtures().join("smollm2.jinja")).unwrap();
        let t = ChatTemplate::new(&source, Some("<|im_start|>"), Some("<|im_end|>")).unwrap();
        let fallback = ChatFormat::detect(Some(&source), Architecture::Llama, |_| false);
        for chat in expected().chats.values() {
            assert_eq!(t.render(chat, true).unwrap(), fallback.render(chat));
        }
    }

    #[test]
    fn a_system_message_the_template_refuses_is_folded_into_the_first_user_turn() {
        // Gemma 2's template: no system role.
        let source = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
        let t = ChatTemplate::new(source, Some("<bos>"), None).unwrap();
        let chat = [Message::system("S"), Message::user("Q")];
        let err = t.render(&chat, true).unwrap_err();
        assert!(err.contains("System role not supported"), "{err}");
        assert_eq!(
            t.render_folding_system(&chat, true).unwrap(),
            "<bos><start_of_turn>user\nS\n\nQ<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn python_string_methods_and_tojson_work_as_in_transformers() {
        // Booleans print as Python prints them (`True`), as in jinja2.
        let source = "{{ messages[0].content.strip().upper() }}|{{ messages[0].content.startswith(' a') }}|{{ {'k': [1, 'é<']} | tojson }}|{{ {'k': 1} | tojson(indent=2) }}";
        let t = ChatTemplate::new(source, None, None).unwrap();
        assert_eq!(
            t.render(&[Message::user(" a b ")], false).unwrap(),
            "A B|True|{\"k\": [1, \"é<\"]}|{\n  \"k\": 1\n}"
        );
        let err = ChatTemplate::new("{% if %}", None, None).unwrap_err();
        assert!(err.contains("syntax"), "{err}");
    }
}
