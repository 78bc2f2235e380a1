//! Last-resort recovery for files whose structure lopdf cannot rebuild: typically a
//! truncated download, where the cross-reference data, the trailer and often the catalog
//! (written last by many producers, or packed in an object stream) are gone.
//!
//! lopdf already rebuilds a damaged cross-reference table by scanning for `N G obj`, but
//! it needs a catalog to find the pages. So we look for the page objects ourselves, in
//! the file and inside the object streams that survive, and append a new catalog and
//! page tree listing them; lopdf's rebuild then finds that catalog.

use std::io::Read;

use super::objects::Reader;

/// Most object streams inflated while looking for pages.
const MAX_OBJECT_STREAMS: usize = 10_000;

/// The bytes of the file with a catalog and page tree appended, or `None` when no page
/// object is found.
pub fn with_synthetic_catalog(bytes: &[u8], rd: &Reader<'_>) -> Option<Vec<u8>> {
    let objects = scan_objects(bytes);
    let mut pages: Vec<u32> = Vec::new();
    let mut max_num = 0u32;
    let mut streams_seen = 0usize;
    for (i, &(num, start)) in objects.iter().enumerate() {
        max_num = max_num.max(num);
        let end = objects.get(i + 1).map_or(bytes.len(), |&(_, next)| next);
        let body = &bytes[start..end];
        let head = &body[..body.len().min(4096)];
        if is_page(head) {
            pages.push(num);
        } else if find(head, b"/ObjStm").is_some() && streams_seen < MAX_OBJECT_STREAMS {
            streams_seen += 1;
            rd.check().ok()?;
            for n in pages_in_object_stream(body, rd) {
                max_num = max_num.max(n);
                pages.push(n);
            }
        }
    }
    if pages.is_empty() {
        return None;
    }
    pages.sort_unstable();
    pages.dedup();
    let catalog = max_num.checked_add(1)?;
    let tree = catalog.checked_add(1)?;
    let mut out = bytes.to_vec();
    let kids: Vec<String> = pages.iter().map(|n| format!("{n} 0 R")).collect();
    out.extend_from_slice(
        format!(
            "\n{catalog} 0 obj\n<< /Type /Catalog /Pages {tree} 0 R >>\nendobj\n\
             {tree} 0 obj\n<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    Some(out)
}

/// Offsets of `N G obj` headers at line starts, in file order, with their numbers.
fn scan_objects(bytes: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = find(&bytes[i..], b" obj") {
        let at = i + rel;
        i = at + 4;
        // Walk back over "N G".
        let mut j = at;
        let digits_back = |j: &mut usize| {
            let end = *j;
            while *j > 0 && bytes[*j - 1].is_ascii_digit() {
                *j -= 1;
            }
            end - *j
        };
        if digits_back(&mut j) == 0 || j == 0 || bytes[j - 1] != b' ' {
            continue;
        }
        j -= 1;
        let num_end = j;
        if digits_back(&mut j) == 0 || num_end - j > 10 {
            continue;
        }
        if j > 0 && !matches!(bytes[j - 1], b'\n' | b'\r' | b' ') {
            continue;
        }
        if let Some(num) = std::str::from_utf8(&bytes[j..num_end])
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        {
            out.push((num, j));
        }
    }
    out
}

/// True when an object's text declares `/Type /Page` (not `/Pages`).
fn is_page(obj: &[u8]) -> bool {
    let mut from = 0;
    while let Some(rel) = find(&obj[from..], b"/Type") {
        let mut k = from + rel + 5;
        while k < obj.len() && matches!(obj[k], b' ' | b'\n' | b'\r' | b'\t') {
            k += 1;
        }
        let rest = &obj[k..];
        if rest.starts_with(b"/Page") && !rest[5..].first().is_some_and(u8::is_ascii_alphanumeric) {
            return true;
        }
        from = k;
    }
    false
}

/// Numbers of the page objects packed in an object stream (`/Type /ObjStm`, Flate).
fn pages_in_object_stream(obj: &[u8], rd: &Reader<'_>) -> Vec<u32> {
    let Some(s) = find(obj, b"stream") else {
        return Vec::new();
    };
    let mut start = s + 6;
    if obj.get(start) == Some(&b'\r') {
        start += 1;
    }
    if obj.get(start) == Some(&b'\n') {
        start += 1;
    }
    let dict = &obj[..s];
    let first = number_after(dict, b"/First").unwrap_or(0);
    let count = number_after(dict, b"/N").unwrap_or(0);
    let mut data = Vec::new();
    // Every object stream inflated here counts against the document's budget.
    let limit = rd.ctx.limits.max_decompressed_bytes.min(rd.room());
    // A truncated stream inflates as far as it goes; that is all we need.
    let _ = flate2::read::ZlibDecoder::new(&obj[start..])
        .take(limit)
        .read_to_end(&mut data);
    if rd.charge(data.len() as u64).is_err() {
        return Vec::new();
    }
    let header = &data[..first.min(data.len())];
    let nums: Vec<usize> = header
        .split(|b| b.is_ascii_whitespace())
        .filter_map(|t| std::str::from_utf8(t).ok()?.parse().ok())
        .collect();
    let pairs: Vec<(usize, usize)> = nums
        .chunks_exact(2)
        .take(count)
        .map(|p| (p[0], p[1]))
        .collect();
    let mut out = Vec::new();
    for (k, &(num, off)) in pairs.iter().enumerate() {
        let begin = first.saturating_add(off).min(data.len());
        let end = pairs
            .get(k + 1)
            .map_or(data.len(), |&(_, o)| first.saturating_add(o))
            .clamp(begin, data.len());
        if is_page(&data[begin..end])
            && let Ok(num) = u32::try_from(num)
        {
            out.push(num);
        }
    }
    out
}

fn number_after(hay: &[u8], key: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + find(&hay[from..], key)? + key.len();
        // "/N" must not match "/Names": require a non-letter after the key.
        if hay.get(at).is_some_and(u8::is_ascii_alphabetic) {
            from = at;
            continue;
        }
        let rest = &hay[at..];
        let start = rest.iter().position(u8::is_ascii_digit)?;
        let len = rest[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        return std::str::from_utf8(&rest[start..start + len])
            .ok()?
            .parse()
            .ok();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_detection() {
        assert!(is_page(b"<< /Type /Page /Parent 2 0 R >>"));
        assert!(is_page(b"<</Type/Page/Contents 4 0 R>>"));
        assert!(!is_page(b"<< /Type /Pages /Kids [] >>"));
        assert_eq!(number_after(b"/Names 3 /N 12 /First 80", b"/N"), Some(12));
    }
}
