//! Chat templates. GGUF files carry theirs as Jinja (`tokenizer.chat_template`); rather
//! than embed a template engine, docket recognises the few formats llama-family models
//! use from markers in that template (or, without one, from the architecture and the
//! vocabulary) and renders them itself.

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
