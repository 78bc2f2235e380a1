//! Layout analysis: glyphs (in content-stream order) become line fragments, fragments are
//! cut into blocks in reading order by a recursive XY-cut, and blocks become lines and
//! paragraphs of text with hyphenated line ends rejoined. A block whose columns line up
//! row by row like a table's is read row by row instead, cells separated by ` | ` as the
//! other loaders write tables, and recorded with its header row.
//!
//! All thresholds are relative to the font size (or to the page's typical line pitch),
//! never absolute, so the same rules hold for a 6 pt footnote and a 24 pt title.

use super::content::{Glyph, PageContent};

/// A gap wider than this (in ems) between glyphs of one line is a word break.
const WORD_GAP: f32 = 0.15;
/// A gap wider than this (in ems) ends a fragment: columns, table cells, tab stops.
const SPLIT_GAP: f32 = 1.5;
/// A glyph further back than this (in ems) starts a new fragment.
const BACKTRACK: f32 = 0.6;
/// Baselines closer than this (in ems of the larger font) are one line, which keeps
/// superscripts and subscripts on their line.
const SAME_LINE: f32 = 0.5;
/// Deepest XY-cut recursion; deeper regions are read as one block.
const MAX_CUT_DEPTH: usize = 64;

/// A run of glyphs on one baseline without large gaps.
#[derive(Debug, Clone)]
struct Frag {
    x0: f32,
    x1: f32,
    /// Baseline of the largest glyph.
    y: f32,
    size: f32,
    text: String,
    /// Bounds used for cutting, set once the page's line pitch is known.
    top: f32,
    bottom: f32,
}

/// The text of one page in reading order, and the tables found in it.
#[derive(Debug, Default)]
pub struct PageText {
    pub text: String,
    /// `(start, end, header row)` of each table, as byte offsets into `text`.
    pub tables: Vec<(usize, usize, String)>,
}

/// A block of fragments found by the XY-cut.
enum Leaf {
    /// Lines and paragraphs.
    Text(Vec<usize>),
    /// A table: its columns, left to right.
    Table(Vec<Vec<usize>>),
}

/// The text of one page in reading order.
pub fn page_text(page: &PageContent) -> PageText {
    let mut counts = [0usize; 4];
    for g in &page.glyphs {
        counts[usize::from(g.dir & 3)] += 1;
    }
    let mut dirs: Vec<u8> = (0..4u8).filter(|&d| counts[usize::from(d)] > 0).collect();
    dirs.sort_by_key(|&d| (std::cmp::Reverse(counts[usize::from(d)]), d));

    let mut out = String::new();
    let mut tables = Vec::new();
    for dir in dirs {
        let glyphs = page.glyphs.iter().filter(|g| g.dir == dir);
        let mut frags = build_fragments(glyphs, &page.text);
        if frags.is_empty() {
            continue;
        }
        set_cut_bounds(&mut frags);
        let mut leaves = Vec::new();
        let idx: Vec<usize> = (0..frags.len()).collect();
        xy_cut(&frags, idx, 0, &mut leaves);
        for leaf in leaves {
            let cols = match leaf {
                Leaf::Text(idx) => {
                    let text = leaf_text(&frags, idx);
                    if text.is_empty() {
                        continue;
                    }
                    // A word hyphenated at the end of a column continues in the next block.
                    if out.is_empty() {
                        out.push_str(&text);
                    } else if !join_hyphenated(&mut out, &text) {
                        out.push_str("\n\n");
                        out.push_str(&text);
                    }
                    continue;
                }
                Leaf::Table(cols) => cols,
            };
            let rows = table_rows(&frags, &cols);
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            let start = out.len();
            out.push_str(&rows.join("\n"));
            tables.push((start, out.len(), rows[0].clone()));
        }
    }
    PageText { text: out, tables }
}

fn build_fragments<'a>(glyphs: impl Iterator<Item = &'a Glyph>, text: &str) -> Vec<Frag> {
    let mut frags: Vec<Frag> = Vec::new();
    let mut cur: Option<Frag> = None;
    let mut pending_space = false;
    // Largest glyph of the current word, and the baseline of the previous glyph.
    let mut word_size = 0.0f32;
    let mut prev_y = 0.0f32;
    for g in glyphs {
        let size = g.size.max(0.1);
        let s = text.get(g.start as usize..g.end as usize).unwrap_or("");
        if g.space {
            if let Some(c) = cur.as_mut()
                && (g.y - c.y).abs() < SAME_LINE * c.size.max(size)
            {
                pending_space = true;
                c.x1 = c.x1.max(g.x + g.adv);
            }
            continue;
        }
        if let Some(c) = cur.as_mut() {
            let em = c.size.max(size);
            let gap = g.x - c.x1;
            let same_line = (g.y - c.y).abs() < SAME_LINE * em;
            if same_line && gap > -BACKTRACK * em && gap < SPLIT_GAP * em {
                // A word that starts with a raised or lowered smaller mark (a footnote
                // or affiliation mark: "¹This", "ᵃElsevier") is two words.
                let after_mark = size > word_size * 1.15 && (g.y - prev_y).abs() > 0.15 * size;
                if (pending_space || gap > WORD_GAP * em || after_mark) && !c.text.ends_with(' ') {
                    c.text.push(' ');
                }
                if c.text.ends_with(' ') {
                    word_size = 0.0;
                }
                word_size = word_size.max(size);
                prev_y = g.y;
                c.text.push_str(s);
                c.x1 = c.x1.max(g.x + g.adv.max(0.0));
                if size > c.size {
                    c.size = size;
                    c.y = g.y;
                }
                pending_space = false;
                continue;
            }
        }
        if let Some(c) = cur.take() {
            frags.push(c);
        }
        pending_space = false;
        word_size = size;
        prev_y = g.y;
        cur = Some(Frag {
            x0: g.x,
            x1: g.x + g.adv.max(0.0),
            y: g.y,
            size,
            text: s.to_string(),
            top: 0.0,
            bottom: 0.0,
        });
    }
    if let Some(c) = cur {
        frags.push(c);
    }
    for f in &mut frags {
        let trimmed = f.text.trim_end();
        f.text.truncate(trimmed.len());
    }
    frags.retain(|f| !f.text.is_empty());
    frags
}

/// The page's typical distance between baselines, in ems: between lines drawn one after
/// the other; on a page where few are (a table drawn row by row, cell by cell), also
/// between fragments one above the other in a column.
fn line_pitch(frags: &[Frag]) -> f32 {
    let ratio = |a: &Frag, b: &Frag| {
        let dy = b.y - a.y;
        let em = a.size.max(b.size);
        let overlap = a.x0 < b.x1 && b.x0 < a.x1;
        (overlap && dy > 0.8 * em && dy < 3.0 * em).then_some(dy / em)
    };
    let mut ratios: Vec<f32> = frags
        .windows(2)
        .filter_map(|w| ratio(&w[0], &w[1]))
        .collect();
    if ratios.len() * 4 < frags.len() {
        let mut by_column: Vec<&Frag> = frags.iter().collect();
        by_column.sort_by(|a, b| {
            (a.x0 / a.size)
                .round()
                .total_cmp(&(b.x0 / b.size).round())
                .then(a.y.total_cmp(&b.y))
        });
        ratios.extend(by_column.windows(2).filter_map(|w| ratio(w[0], w[1])));
    }
    if ratios.is_empty() {
        return 1.2;
    }
    let mid = ratios.len() / 2;
    let (_, m, _) = ratios.select_nth_unstable_by(mid, f32::total_cmp);
    m.clamp(1.0, 2.5)
}

/// Vertical extent of each fragment for cutting: a little more than one line pitch, so
/// that consecutive lines of a paragraph overlap and only real white space separates
/// blocks (and the rows of two columns never line up into cuts across the page).
fn set_cut_bounds(frags: &mut [Frag]) {
    let pitch = line_pitch(frags);
    for f in frags {
        f.top = f.y - f.size * pitch * 0.75;
        f.bottom = f.y + f.size * pitch * 0.4;
    }
}

/// Most horizontal bands for which column continuity is checked (the check is
/// quadratic in the number of bands).
const MAX_MERGED_BANDS: usize = 400;

/// Recursive XY-cut: split by horizontal white bands first (top to bottom), then by
/// vertical white channels (left to right); regions with neither are leaves.
///
/// Plain XY-cut fails on two-column pages where both columns happen to have white space
/// at the same height (a display in each): it would read the rows across. So bands that
/// continue the column structure of the band above are merged back before recursing,
/// and the columns are then cut over their whole height.
fn xy_cut(frags: &[Frag], mut idx: Vec<usize>, depth: usize, leaves: &mut Vec<Leaf>) {
    if idx.len() <= 1 || depth >= MAX_CUT_DEPTH {
        leaves.push(Leaf::Text(idx));
        return;
    }
    let bands = horizontal_bands(frags, &mut idx);
    if bands.len() > 1 {
        let groups = if bands.len() <= MAX_MERGED_BANDS {
            merge_columnar_bands(frags, bands)
        } else {
            bands
        };
        if groups.len() > 1 {
            for group in groups {
                xy_cut(frags, group, depth + 1, leaves);
            }
            return;
        }
    }
    let cols = split_columns(frags, &idx);
    if cols.len() > 1 {
        if is_table(frags, &cols) {
            // Lines of prose below or above the table that line up with its columns
            // (a two-column page right under a table) are not rows.
            let rows = rows_of(frags, &cols);
            let (from, to) = table_run(frags, &cols, &rows);
            let keep: std::collections::HashSet<usize> =
                rows[from..to].iter().flatten().copied().collect();
            let table: Vec<Vec<usize>> = cols
                .iter()
                .map(|c| c.iter().copied().filter(|i| keep.contains(i)).collect())
                .filter(|c: &Vec<usize>| !c.is_empty())
                .collect();
            if to - from == rows.len() || (table.len() > 1 && is_table(frags, &table)) {
                let (before, after) = (rows[..from].concat(), rows[to..].concat());
                if !before.is_empty() {
                    xy_cut(frags, before, depth + 1, leaves);
                }
                leaves.push(Leaf::Table(table));
                if !after.is_empty() {
                    xy_cut(frags, after, depth + 1, leaves);
                }
                return;
            }
        }
        for col in cols {
            xy_cut(frags, col, depth + 1, leaves);
        }
        return;
    }
    leaves.push(Leaf::Text(idx));
}

/// Split into bands separated by horizontal white space, top to bottom.
fn horizontal_bands(frags: &[Frag], idx: &mut [usize]) -> Vec<Vec<usize>> {
    idx.sort_by(|&a, &b| frags[a].top.total_cmp(&frags[b].top));
    let mut bands: Vec<Vec<usize>> = Vec::new();
    let mut band_bottom = f32::NEG_INFINITY;
    for &i in idx.iter() {
        let f = &frags[i];
        match bands.last_mut() {
            Some(band) if f.top <= band_bottom => {
                band.push(i);
                band_bottom = band_bottom.max(f.bottom);
            }
            _ => {
                bands.push(vec![i]);
                band_bottom = f.bottom;
            }
        }
    }
    bands
}

/// Merge each band into the group above it when that group is laid out in columns and
/// no fragment of the band straddles the middle of a white channel between them (ragged
/// lines may reach into a channel, a centred footer or full-width line crosses it).
/// A single-row band just above a columnar group (the headings of both columns on one
/// row) joins that group the same way, when only a small gap separates them.
fn merge_columnar_bands(frags: &[Frag], bands: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let respects = |band: &[usize], channels: &[f32]| {
        band.iter().all(|&i| {
            let f = &frags[i];
            channels.iter().all(|&mid| f.x1 <= mid || f.x0 >= mid)
        })
    };
    // (members, channels of its first columnar band)
    let mut groups: Vec<(Vec<usize>, Vec<f32>)> = Vec::new();
    for band in bands {
        if let Some((group, channels)) = groups.last_mut()
            && !channels.is_empty()
            && respects(&band, channels)
        {
            group.extend_from_slice(&band);
            continue;
        }
        let channels = column_channels(frags, &band);
        groups.push((band, channels));
    }
    // Backwards: pull a non-columnar band into the columnar group right below it.
    let mut out: Vec<(Vec<usize>, Vec<f32>)> = Vec::with_capacity(groups.len());
    while let Some((mut group, channels)) = groups.pop() {
        if channels.is_empty()
            && let Some((next, next_channels)) = out.last_mut()
            && !next_channels.is_empty()
            && respects(&group, next_channels)
        {
            let bottom = group
                .iter()
                .map(|&i| frags[i].bottom)
                .fold(f32::MIN, f32::max);
            let size = group.iter().map(|&i| frags[i].size).fold(0.0, f32::max);
            let top = next.iter().map(|&i| frags[i].top).fold(f32::MAX, f32::min);
            if top - bottom < size {
                group.append(next);
                *next = group;
                continue;
            }
        }
        out.push((group, channels));
    }
    out.into_iter().rev().map(|(g, _)| g).collect()
}

/// Middles of the white channels between the columns of a region (empty if it is not
/// laid out in columns).
fn column_channels(frags: &[Frag], idx: &[usize]) -> Vec<f32> {
    split_columns(frags, idx)
        .windows(2)
        .map(|w| {
            let right = w[0].iter().map(|&i| frags[i].x1).fold(f32::MIN, f32::max);
            let left = w[1].iter().map(|&i| frags[i].x0).fold(f32::MAX, f32::min);
            (right + left) / 2.0
        })
        .collect()
}

/// Split into columns separated by vertical white channels, left to right. A channel
/// counts only between regions of several lines each: a single row of widely spaced
/// words (a heading number, an equation tag) stays one line.
fn split_columns(frags: &[Frag], idx: &[usize]) -> Vec<Vec<usize>> {
    let mut idx = idx.to_vec();
    idx.sort_by(|&a, &b| frags[a].x0.total_cmp(&frags[b].x0));
    let mut cols: Vec<Vec<usize>> = Vec::new();
    let mut col_right = f32::NEG_INFINITY;
    for &i in &idx {
        let f = &frags[i];
        match cols.last_mut() {
            Some(col) if f.x0 <= col_right => {
                col.push(i);
                col_right = col_right.max(f.x1);
            }
            _ => {
                cols.push(vec![i]);
                col_right = f.x1;
            }
        }
    }
    if cols.len() <= 1 {
        return cols;
    }
    let multi_line = |col: &Vec<usize>| {
        let first = frags[col[0]].y;
        col.iter()
            .any(|&i| (frags[i].y - first).abs() > SAME_LINE * frags[i].size)
    };
    // Merge single-line slivers into their left neighbour so that a lone label does not
    // break a column pair apart.
    let mut merged: Vec<Vec<usize>> = Vec::new();
    for col in cols {
        match merged.last_mut() {
            Some(prev) if !multi_line(&col) || !multi_line(prev) => prev.extend(col),
            _ => merged.push(col),
        }
    }
    merged
}

/// Fewest rows of a table, its header row included.
const MIN_TABLE_ROWS: usize = 3;
/// Share of a table's fragments that must sit on rows reaching two columns or more.
const MIN_ALIGNED: f32 = 0.75;
/// A column whose lines have at least this many words (median) holds prose.
const PROSE_WORDS: usize = 6;
/// Share of a two-column table's right-hand cells that must be figures (amounts,
/// percentages, dates, counts): two columns of words are read as two text columns.
const MIN_FIGURES: f32 = 0.6;

/// The column of each fragment of a block.
fn column_of(cols: &[Vec<usize>]) -> std::collections::HashMap<usize, usize> {
    cols.iter()
        .enumerate()
        .flat_map(|(c, col)| col.iter().map(move |&i| (i, c)))
        .collect()
}

/// Rows of a block: fragment indices grouped by baseline, top to bottom.
fn rows_of(frags: &[Frag], cols: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = cols.iter().flatten().copied().collect();
    idx.sort_by(|&a, &b| frags[a].y.total_cmp(&frags[b].y));
    let mut rows: Vec<(f32, f32, Vec<usize>)> = Vec::new();
    for i in idx {
        let f = &frags[i];
        match rows.last_mut() {
            Some((y, size, members)) if (f.y - *y).abs() < SAME_LINE * size.max(f.size) => {
                members.push(i);
                *size = size.max(f.size);
                *y = f.y.min(*y);
            }
            _ => rows.push((f.y, f.size, vec![i])),
        }
    }
    rows.into_iter().map(|(_, _, m)| m).collect()
}

/// Whether a block split into columns is a table rather than columns of text: its rows
/// line up across the columns, not every column is prose, and a block of only two
/// columns needs figures in the right one (two columns of short lines are as likely a
/// narrow two-column page, which must be read column by column).
fn is_table(frags: &[Frag], cols: &[Vec<usize>]) -> bool {
    let col_of = column_of(cols);
    let rows = rows_of(frags, cols);
    let spans = |row: &Vec<usize>| {
        let mut seen: Vec<usize> = row.iter().map(|i| col_of[i]).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    let aligned: Vec<&Vec<usize>> = rows.iter().filter(|r| spans(r) >= 2).collect();
    let in_aligned: usize = aligned.iter().map(|r| r.len()).sum();
    if aligned.len() < MIN_TABLE_ROWS || (in_aligned as f32) < MIN_ALIGNED * col_of.len() as f32 {
        return false;
    }
    let words = |i: usize| frags[i].text.split_whitespace().count();
    let prose = cols
        .iter()
        .filter(|col| {
            let mut w: Vec<usize> = col.iter().map(|&i| words(i)).collect();
            let mid = w.len() / 2;
            *w.select_nth_unstable(mid).1 >= PROSE_WORDS
        })
        .count();
    if prose * 2 > cols.len() {
        return false;
    }
    if cols.len() >= 3 {
        return true;
    }
    let right = &cols[cols.len() - 1];
    let figures = right.iter().filter(|&&i| is_figure(&frags[i].text)).count();
    figures as f32 >= MIN_FIGURES * right.len() as f32
}

/// The longest run of rows `[from, to)` without a line of prose in a column of short
/// cells (a fragment of several words, over twice its column's typical length).
fn table_run(frags: &[Frag], cols: &[Vec<usize>], rows: &[Vec<usize>]) -> (usize, usize) {
    let words = |i: usize| frags[i].text.split_whitespace().count();
    let mut typical = std::collections::HashMap::new();
    for col in cols {
        let mut w: Vec<usize> = col.iter().map(|&i| words(i)).collect();
        let mid = w.len() / 2;
        let median = *w.select_nth_unstable(mid).1;
        for &i in col {
            typical.insert(i, median);
        }
    }
    let prose = |row: &Vec<usize>| {
        row.iter()
            .any(|&i| words(i) >= PROSE_WORDS && words(i) > 2 * typical[&i])
    };
    let (mut best, mut start) = ((0, 0), 0);
    for (r, row) in rows.iter().enumerate() {
        if prose(row) {
            start = r + 1;
        } else if r + 1 - start > best.1 - best.0 {
            best = (start, r + 1);
        }
    }
    best
}

/// A cell that states a figure: digits with at most a little around them (`12`,
/// `€1,200.50`, `-3.5 %`, `2024-03-01`, `12 kg`).
fn is_figure(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    digits > 0 && letters <= 3 && text.split_whitespace().count() <= 3
}

/// A table block's rows, top to bottom: each row's cells in column order separated by
/// ` | `, fragments of one cell joined by spaces.
fn table_rows(frags: &[Frag], cols: &[Vec<usize>]) -> Vec<String> {
    let col_of = column_of(cols);
    rows_of(frags, cols)
        .into_iter()
        .map(|mut row| {
            row.sort_by(|&a, &b| frags[a].x0.total_cmp(&frags[b].x0));
            let mut cells = vec![String::new(); cols.len()];
            for i in row {
                let cell = &mut cells[col_of[&i]];
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&frags[i].text);
            }
            cells.join(" | ").trim().to_string()
        })
        .collect()
}

/// Lines of a leaf block, top to bottom, with paragraphs and hyphenation handled.
fn leaf_text(frags: &[Frag], mut idx: Vec<usize>) -> String {
    idx.sort_by(|&a, &b| frags[a].y.total_cmp(&frags[b].y));
    // Group into lines.
    let mut lines: Vec<(f32, f32, Vec<usize>)> = Vec::new(); // (baseline, size, frags)
    for &i in &idx {
        let f = &frags[i];
        match lines.last_mut() {
            Some((y, size, members)) if (f.y - *y).abs() < SAME_LINE * size.max(f.size) => {
                members.push(i);
                if f.size > *size {
                    *size = f.size;
                    *y = f.y;
                }
            }
            _ => lines.push((f.y, f.size, vec![i])),
        }
    }
    let mut texts: Vec<(f32, f32, String)> = Vec::with_capacity(lines.len());
    for (y, size, mut members) in lines {
        members.sort_by(|&a, &b| frags[a].x0.total_cmp(&frags[b].x0));
        let mut line = String::new();
        let mut last: Option<&Frag> = None;
        for &i in &members {
            let f = &frags[i];
            if let Some(p) = last {
                // Fake bold: the same text drawn twice, slightly offset.
                if p.text == f.text && (f.x0 - p.x0).abs() < 0.3 * f.size {
                    continue;
                }
                if f.x0 - p.x1 > WORD_GAP * size.min(f.size.max(p.size)) {
                    line.push(' ');
                }
            }
            line.push_str(&f.text);
            last = Some(f);
        }
        texts.push((y, size, line));
    }
    // Typical pitch within this block, for paragraph breaks.
    let mut pitches: Vec<f32> = texts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let pitch = if pitches.is_empty() {
        f32::INFINITY
    } else {
        let mid = pitches.len() / 2;
        *pitches.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    let mut out = String::new();
    let mut prev_y = None;
    for (y, size, line) in texts {
        if let Some(py) = prev_y {
            let gap: f32 = y - py;
            if gap > pitch * 1.4 && gap > size * 1.2 {
                out.push_str("\n\n");
            } else if !join_hyphenated(&mut out, &line) {
                out.push('\n');
            } else {
                prev_y = Some(y);
                continue;
            }
        }
        out.push_str(&line);
        prev_y = Some(y);
    }
    out
}

/// If `out` ends in a hyphen after a letter and `next` starts with a lower-case letter,
/// drop the hyphen and append `next` directly ("hyphen-" + "ation" = "hyphenation").
fn join_hyphenated(out: &mut String, next: &str) -> bool {
    let mut rev = out.chars().rev();
    let (Some('-'), Some(before)) = (rev.next(), rev.next()) else {
        return false;
    };
    if !before.is_alphabetic() || !next.chars().next().is_some_and(char::is_lowercase) {
        return false;
    }
    out.pop();
    out.push_str(next);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphen_rules() {
        let mut s = String::from("a hyphen-");
        assert!(join_hyphenated(&mut s, "ation here"));
        assert_eq!(s, "a hyphenation here");
        let mut s = String::from("see pages 10-");
        assert!(!join_hyphenated(&mut s, "12"));
        let mut s = String::from("Jean-");
        assert!(!join_hyphenated(&mut s, "Paul"));
    }
}
