//! A guarded walk over one XML document, for the zip-packaged formats (DOCX).
//!
//! Office XML never needs a document type declaration, and a DTD is how "billion laughs"
//! entity bombs and external-entity reads get in, so any `<!DOCTYPE` is refused outright
//! and only the five predefined entities and character references are resolved; an
//! undefined entity is an error, never expanded. Nesting is bounded by
//! [`crate::Limits::max_depth`] and the deadline is checked as events are read.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::DocError;
use crate::loader::LoadContext;

/// One step of the walk. Names are local (prefix stripped): `w:p` is `p`.
#[derive(Debug)]
pub(crate) enum Node<'a, 'b> {
    Open(&'b BytesStart<'a>),
    Close(&'b str),
    Text(&'b str),
}

/// Walk `xml` (the part `part` of a `expected` file), calling `f` for each element and
/// run of text. `Empty` elements arrive as an `Open` followed by a `Close`.
pub(crate) fn walk(
    xml: &str,
    part: &str,
    expected: &'static str,
    ctx: &LoadContext<'_>,
    mut f: impl FnMut(Node<'_, '_>) -> Result<(), DocError>,
) -> Result<(), DocError> {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0u32;
    let mut events = 0u32;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(256) {
            ctx.deadline.check()?;
        }
        let event = reader
            .read_event()
            .map_err(|e| DocError::Corrupt(format!("{part}: {e}")))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > ctx.limits.max_depth {
                    return Err(DocError::TooDeep(format!(
                        "{part}: XML nested deeper than {} elements",
                        ctx.limits.max_depth
                    )));
                }
                f(Node::Open(&e))?;
            }
            Event::Empty(e) => {
                f(Node::Open(&e))?;
                f(Node::Close(e.local_name().into_inner()))?;
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                f(Node::Close(e.local_name().into_inner()))?;
            }
            Event::Text(t) => f(Node::Text(&t.xml10_content()))?,
            Event::CData(t) => f(Node::Text(&t.xml10_content()))?,
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string().into(),
                    Ok(None) => {
                        let name = r.xml10_content();
                        match resolve_predefined_entity(&name) {
                            Some(s) => s.into(),
                            None => {
                                return Err(DocError::Corrupt(format!(
                                    "{part}: undefined entity &{name};"
                                )));
                            }
                        }
                    }
                    Err(e) => return Err(DocError::Corrupt(format!("{part}: {e}"))),
                };
                f(Node::Text(&resolved))?;
            }
            Event::DocType(_) => {
                return Err(DocError::WrongFormat {
                    expected,
                    reason: format!(
                        "{part} has a document type declaration (DTDs and entity \
                         definitions are refused)"
                    ),
                });
            }
            Event::Eof => return Ok(()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}

/// The local name of an element (`p` for `w:p`).
pub(crate) fn local<'a>(e: &'a BytesStart<'_>) -> &'a str {
    e.local_name().into_inner()
}

/// The value of the attribute with local name `name` (`val` matches `w:val`).
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(Cow::into_owned)
        })
}
