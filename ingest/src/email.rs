//! E-mail messages (`.eml`, RFC 5322 with MIME).
//!
//! Body: the parts a mail client would display as text, preferring `text/plain` over the
//! HTML alternative; an HTML-only message goes through the HTML loader (its headings are
//! kept when it is the only body part). Transfer encodings and charsets are decoded by
//! mail-parser. Attachments are not read, only named.
//!
//! Title: the subject. Metadata: `from`, `to`, `cc` (addresses as `Name <addr>`, joined
//! with `, `), `subject`, `date` (RFC 3339), `message_id`, and `attachments`: the file
//! names of the attachments joined with `; ` (file names often contain commas).

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};

use crate::document::Extracted;
use crate::error::DocError;
use crate::flow::Flow;
use crate::html::html_to_text;
use crate::loader::{LoadContext, Loader};

#[derive(Debug, Clone, Copy, Default)]
pub struct EmailLoader;

impl Loader for EmailLoader {
    fn name(&self) -> &'static str {
        "email"
    }

    fn load(&self, bytes: &[u8], ctx: &LoadContext<'_>) -> Result<Extracted, DocError> {
        let not_email = |reason: &str| DocError::WrongFormat {
            expected: "e-mail",
            reason: reason.into(),
        };
        // No NUL-byte sniffing here: a message may legitimately carry a binary part
        // early on. Binary junk has no headers and fails the check below.
        let msg = MessageParser::default()
            .parse(bytes)
            .ok_or_else(|| not_email("no message headers"))?;
        ctx.deadline.check()?;
        if msg.from().is_none()
            && msg.to().is_none()
            && msg.subject().is_none()
            && msg.date().is_none()
            && msg.message_id().is_none()
        {
            return Err(not_email(
                "none of From, To, Subject, Date or Message-ID is present",
            ));
        }

        let mut meta: Vec<(&str, String)> = Vec::new();
        for (key, addr) in [("from", msg.from()), ("to", msg.to()), ("cc", msg.cc())] {
            if let Some(a) = addr {
                meta.push((key, format_addresses(a)));
            }
        }
        if let Some(s) = msg.subject() {
            meta.push(("subject", s.to_string()));
        }
        if let Some(d) = msg.date() {
            meta.push(("date", d.to_rfc3339()));
        }
        if let Some(id) = msg.message_id() {
            meta.push(("message_id", id.to_string()));
        }
        let names: Vec<String> = msg
            .attachments()
            .filter_map(|p| {
                p.attachment_name().map(str::to_string).or_else(|| {
                    p.message()
                        .and_then(|m| m.subject())
                        .map(|s| format!("{s}.eml"))
                })
            })
            .filter(|n| !n.trim().is_empty())
            .collect();
        if !names.is_empty() {
            meta.push(("attachments", names.join("; ")));
        }

        // Text parts first; the HTML bodies only when there is no plain text.
        let mut bodies: Vec<&PartType<'_>> = msg
            .text_bodies()
            .map(|p| &p.body)
            .filter(|b| matches!(b, PartType::Text(_)))
            .collect();
        if bodies.is_empty() {
            bodies = msg
                .html_bodies()
                .chain(msg.text_bodies())
                .map(|p| &p.body)
                .filter(|b| matches!(b, PartType::Html(_)))
                .take(1)
                .collect();
        }

        let mut ex = match bodies.as_slice() {
            [PartType::Html(html)] => html_to_text(html, ctx)?,
            _ => {
                let mut flow = Flow::new(ctx);
                for body in bodies {
                    flow.paragraph_break();
                    match body {
                        PartType::Text(t) => flow.text_with_breaks(t),
                        PartType::Html(h) => flow.text_with_breaks(&html_to_text(h, ctx)?.text),
                        _ => {}
                    }
                    flow.check(ctx)?;
                }
                flow.finish()
            }
        };
        // The page's own title and meta tags are the sender's template, not the message.
        ex.title = None;
        ex.metadata.clear();
        for (k, v) in meta {
            let v = crate::normalize::tidy_whitespace(&crate::normalize::normalize_text(&v))
                .replace('\n', " ");
            if !v.is_empty() {
                ex.metadata.insert(k.to_string(), v);
            }
        }
        ex.title = ex.metadata.get("subject").cloned();
        Ok(ex)
    }
}

/// `Name <addr>, other@example.org`
fn format_addresses(a: &Address<'_>) -> String {
    a.iter()
        .filter_map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(ad)) if !n.trim().is_empty() => Some(format!("{} <{ad}>", n.trim())),
            (_, Some(ad)) => Some(ad.to_string()),
            (Some(n), None) => Some(n.trim().to_string()),
            (None, None) => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::Limits;

    fn load(raw: &str) -> Result<Extracted, DocError> {
        EmailLoader.load(raw.as_bytes(), &LoadContext::new(&Limits::default()))
    }

    #[test]
    fn plain_message() {
        let ex = load(
            "From: \"Lee, Ann\" <ann@example.org>\r\nTo: bob@example.org, Carl <c@example.org>\r\n\
             Subject: =?UTF-8?Q?Caf=C3=A9_plans?=\r\nDate: Tue, 1 Oct 2024 10:00:00 +0200\r\n\
             Message-ID: <abc@example.org>\r\n\r\nHi Bob,\r\n\r\nsee you at\r\nnoon.\r\n",
        )
        .unwrap();
        assert_eq!(ex.text, "Hi Bob,\n\nsee you at\nnoon.");
        assert_eq!(ex.title.as_deref(), Some("Café plans"));
        assert_eq!(ex.metadata["from"], "Lee, Ann <ann@example.org>");
        assert_eq!(ex.metadata["to"], "bob@example.org, Carl <c@example.org>");
        assert_eq!(ex.metadata["date"], "2024-10-01T10:00:00+02:00");
        assert_eq!(ex.metadata["message_id"], "abc@example.org");
        assert!(!ex.metadata.contains_key("attachments"));
    }

    #[test]
    fn html_only_message_uses_the_html_loader() {
        let ex = load(
            "From: a@example.org\nSubject: News\nContent-Type: text/html; charset=utf-8\n\n\
             <html><head><title>Template</title><style>p{}</style></head>\
             <body><h1>Big news</h1><p>It&rsquo;s here.</p></body></html>\n",
        )
        .unwrap();
        assert_eq!(ex.text, "Big news\n\nIt’s here.");
        assert_eq!(ex.title.as_deref(), Some("News"));
        assert_eq!(ex.headings.len(), 1);
    }

    #[test]
    fn deeply_nested_multipart_does_not_overflow() {
        let n = 5_000;
        let mut raw = String::from("From: a@example.org\nSubject: deep\n");
        for i in 0..n {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\n\ninnermost\n");
        for i in (0..n).rev() {
            raw.push_str(&format!("--b{i}--\n"));
        }
        let ex = load(&raw).unwrap();
        assert_eq!(ex.title.as_deref(), Some("deep"));
    }

    #[test]
    fn not_an_email() {
        assert_eq!(
            load("just some text\nwithout headers\n")
                .unwrap_err()
                .kind(),
            "wrong_format"
        );
    }
}
