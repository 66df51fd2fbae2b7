//! Finds where a JSON pointer's value starts in the source text, for `file:line:column`.
//!
//! serde_json reports positions only for syntax errors; problems found later (an unresolved ref,
//! a misplaced record) know only their JSON pointer. This small scanner walks the text once along
//! the pointer, skipping the values it does not need. It never fails loudly: a pointer that does
//! not lead anywhere yields the deepest position reached.

/// 1-based line and column of the value at `pointer` (RFC 6901) in `text`.
pub fn locate(text: &str, pointer: &str) -> Option<(usize, usize)> {
    let segments: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.skip_ws();
    let mut found = scanner.pos;
    for segment in &segments {
        match scanner.enter(segment) {
            Some(pos) => found = pos,
            None => break,
        }
    }
    Some(line_column(text, found))
}

/// The string value of a top-level member, read even when a later part of the text is
/// malformed (so a diagnostic about broken JSON can still name the document's id).
pub fn top_level_string(text: &str, key: &str) -> Option<String> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.skip_ws();
    scanner.enter(key)?;
    scanner.string()
}

pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// At the start of an object or array, moves to the start of the member named `segment`
    /// and returns its offset.
    fn enter(&mut self, segment: &str) -> Option<usize> {
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if key == segment {
                        return Some(self.pos);
                    }
                    self.skip_value()?;
                    self.skip_ws();
                    match self.peek()? {
                        b',' => self.pos += 1,
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let index: usize = segment.parse().ok()?;
                self.pos += 1;
                for _ in 0..index {
                    self.skip_ws();
                    self.skip_value()?;
                    self.skip_ws();
                    if self.peek()? != b',' {
                        return None;
                    }
                    self.pos += 1;
                }
                self.skip_ws();
                (self.peek()? != b']').then_some(self.pos)
            }
            _ => None,
        }
    }

    /// Reads a string literal, decoding the escapes that matter for key comparison.
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    raw.push(b'\\');
                    raw.push(escaped);
                    if escaped == b'u' {
                        raw.extend_from_slice(self.bytes.get(self.pos..self.pos + 4)?);
                        self.pos += 4;
                    }
                }
                _ => raw.push(b),
            }
        }
        // Let serde_json decode escapes; the raw bytes are a valid JSON string body.
        let mut quoted = Vec::with_capacity(raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&raw);
        quoted.push(b'"');
        serde_json::from_slice(&quoted).ok()
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "{\n  \"id\": \"a.b.c\",\n  \"defs\": {\n    \"main\": {\"type\": \"object\",\n      \"properties\": {\"x/y\": [1, {\"ref\": \"#z\"}]}}\n  }\n}";

    #[test]
    fn finds_nested_members_and_array_items() {
        assert_eq!(locate(DOC, ""), Some((1, 1)));
        assert_eq!(locate(DOC, "/id"), Some((2, 9)));
        assert_eq!(locate(DOC, "/defs/main"), Some((4, 13)));
        assert_eq!(
            locate(DOC, "/defs/main/properties/x~1y/1/ref"),
            Some((5, 41))
        );
    }

    #[test]
    fn missing_members_give_the_deepest_position_reached() {
        assert_eq!(locate(DOC, "/defs/main/nope"), Some((4, 13)));
        assert_eq!(locate("not json", "/a/b"), Some((1, 1)));
        assert_eq!(locate("{\"a\": [1, 2", "/a/7"), Some((1, 7)));
    }
}
