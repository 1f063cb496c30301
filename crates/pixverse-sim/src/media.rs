//! The media a finished task points at, made with no download: every video is the same tiny MP4
//! fixture (`media/sample.mp4`, see `media/README.md`), and each frame is an SVG poster drawn
//! from the task: its prompt, wrapped and XML-escaped, on a background colored by its id.

use std::fmt::Write as _;

/// The one video every task serves: 1 s of ffmpeg's `testsrc` at 160x90, H.264, faststart.
pub(crate) const SAMPLE_MP4: &[u8] = include_bytes!("../media/sample.mp4");

/// The path under which media is served, after the public base URL.
pub(crate) const MEDIA_PATH: &str = "/_sim/media";

/// The three URLs of a successful task's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaUrls {
    /// `video_url`: the MP4.
    pub(crate) video: String,
    /// `first_frame`: the poster.
    pub(crate) first_frame: String,
    /// `last_frame`: the poster with `?frame=last`.
    pub(crate) last_frame: String,
}

impl MediaUrls {
    /// The URLs of `task_id` under `base`, the simulator's public URL without a trailing slash.
    pub(crate) fn new(base: &str, task_id: &str) -> Self {
        let stem = format!("{base}{MEDIA_PATH}/{task_id}");
        Self {
            video: format!("{stem}.mp4"),
            first_frame: format!("{stem}.svg"),
            last_frame: format!("{stem}.svg?frame=last"),
        }
    }
}

/// What a `Range` header asks of a body of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// No usable single range: answer 200 with everything. Multiple ranges and malformed
    /// headers land here too, which RFC 9110 allows (a server may ignore `Range`).
    Full,
    /// Answer 206 with the bytes from `start` to `end`, both included.
    Part {
        /// The first byte.
        start: usize,
        /// The last byte, included.
        end: usize,
    },
    /// Answer 416: the range starts beyond the end.
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=a-b`, `bytes=a-` or `bytes=-n`) against a body of `len` bytes.
pub(crate) fn byte_range(header: &str, len: usize) -> ByteRange {
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return ByteRange::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let number = |text: &str| -> Option<usize> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A number too large for usize is past any end: saturate.
        Some(text.parse().unwrap_or(usize::MAX))
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `bytes=-n`: the last n bytes.
        return match number(last) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(suffix) => ByteRange::Part {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return ByteRange::Full;
    };
    let end = if last.is_empty() {
        usize::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            // `bytes=5-1` or garbage: an invalid range, ignored.
            _ => return ByteRange::Full,
        }
    };
    if start >= len {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Part {
        start,
        end: end.min(len - 1),
    }
}

/// Which frame a poster shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `first_frame`.
    First,
    /// `last_frame`.
    Last,
}

impl Frame {
    /// From the query string: `frame=last` is the last frame, anything else the first.
    pub(crate) fn from_query(query: Option<&str>) -> Self {
        let last = query
            .unwrap_or_default()
            .split('&')
            .any(|pair| pair == "frame=last");
        if last { Self::Last } else { Self::First }
    }

    fn label(self) -> &'static str {
        match self {
            Self::First => "first frame",
            Self::Last => "last frame",
        }
    }
}

/// What a poster shows, read from the task's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Poster {
    pub(crate) task_id: String,
    pub(crate) prompt: String,
    pub(crate) model: String,
    pub(crate) quality: String,
    pub(crate) duration: i64,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Poster {
    /// The poster of a result item (`data[0]` of a success body), with sane fallbacks.
    pub(crate) fn from_item(task_id: &str, item: &serde_json::Value) -> Self {
        let text = |key: &str| item[key].as_str().unwrap_or_default().to_owned();
        let size = |key: &str, default: u32| {
            item[key]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (16..=8192).contains(n))
                .unwrap_or(default)
        };
        Self {
            task_id: task_id.to_owned(),
            prompt: text("prompt"),
            model: text("model"),
            quality: text("quality"),
            duration: item["duration"].as_i64().unwrap_or_default(),
            width: size("video_width", 960),
            height: size("video_height", 540),
        }
    }

    /// The SVG document: the prompt on a gradient colored by the task id, the model, quality
    /// and duration below, and which frame it is above. Every text is XML-escaped.
    pub(crate) fn svg(&self, frame: Frame) -> String {
        let (w, h) = (self.width, self.height);
        let short = w.min(h);
        let font = (short / 12).max(8);
        let small = (short / 24).max(6);
        let pad = short / 12;
        let line_height = font * 5 / 4;
        // A bold sans-serif glyph is about 0.6 of its size wide on average.
        let per_line = ((w.saturating_sub(2 * pad)) * 10 / (font * 6)).max(8) as usize;
        let max_lines = ((h * 3 / 5) / line_height).clamp(1, 8) as usize;
        let lines = wrap(&self.prompt, per_line, max_lines);

        let hue = hue_of(&self.task_id);
        let (light, dark) = (
            hsl_hex(hue, 0.55, 0.42),
            hsl_hex((hue + 40) % 360, 0.6, 0.2),
        );
        let (from, to) = match frame {
            Frame::First => (light, dark),
            Frame::Last => (dark, light),
        };
        let label = escape(&format!("pixverse-sim · {}", frame.label()));
        let footer = escape(&format!(
            "{} · {} · {} s",
            self.model, self.quality, self.duration
        ));

        let mut svg = String::with_capacity(1024);
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\">\
             <title>{title}</title>\
             <defs><linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
             <stop offset=\"0\" stop-color=\"{from}\"/><stop offset=\"1\" stop-color=\"{to}\"/>\
             </linearGradient></defs>\
             <rect width=\"{w}\" height=\"{h}\" fill=\"url(#bg)\"/>\
             <g font-family=\"system-ui, sans-serif\" fill=\"#ffffff\">\
             <text x=\"{pad}\" y=\"{label_y}\" font-size=\"{small}\" fill-opacity=\"0.75\">{label}</text>",
            title = escape(&self.prompt),
            label_y = pad + small,
        );
        let block = line_height * lines.len() as u32;
        let top = h.saturating_sub(block) / 2 + font;
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                svg,
                "<text x=\"{pad}\" y=\"{y}\" font-size=\"{font}\" font-weight=\"600\">{text}</text>",
                y = top + line_height * i as u32,
                text = escape(line),
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{pad}\" y=\"{y}\" font-size=\"{small}\" fill-opacity=\"0.75\">{footer}</text>\
             </g></svg>",
            y = h.saturating_sub(pad),
        );
        svg
    }
}

/// Escapes text for XML content and attribute values; control characters, which XML 1.0
/// cannot carry even escaped, become spaces.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Greedy word wrap to `width` characters a line, at most `max_lines` lines; words longer than
/// a line are cut, and text that does not fit ends with `…`.
pub(crate) fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(1);
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_len = 0;
    for word in cleaned.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        for piece in chars.chunks(width) {
            let needed = if line_len == 0 {
                piece.len()
            } else {
                line_len + 1 + piece.len()
            };
            if needed > width {
                lines.push(std::mem::take(&mut line));
                line_len = 0;
            }
            if line_len > 0 {
                line.push(' ');
                line_len += 1;
            }
            line.extend(piece);
            line_len += piece.len();
        }
    }
    if line_len > 0 {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let mut kept: Vec<char> = last.chars().collect();
            kept.truncate(width.saturating_sub(1));
            *last = kept.into_iter().collect::<String>().trim_end().to_owned() + "…";
        }
    }
    lines
}

/// A hue from 0 to 359 from a task id (FNV-1a), so each task has its own color.
fn hue_of(task_id: &str) -> u32 {
    let hash = task_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % 360) as u32
}

/// `#rrggbb` of a hue in degrees with saturation and lightness from 0 to 1.
fn hsl_hex(hue: u32, saturation: f64, lightness: f64) -> String {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = f64::from(hue % 360) / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let channel = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    format!("#{:02x}{:02x}{:02x}", channel(r), channel(g), channel(b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_fixture_is_an_mp4() {
        assert_eq!(&SAMPLE_MP4[4..8], b"ftyp");
        assert!(SAMPLE_MP4.len() < 16 * 1024);
    }

    #[test]
    fn urls_sit_under_the_base() {
        let urls = MediaUrls::new("http://127.0.0.1:9", "t-1");
        assert_eq!(urls.video, "http://127.0.0.1:9/_sim/media/t-1.mp4");
        assert_eq!(urls.first_frame, "http://127.0.0.1:9/_sim/media/t-1.svg");
        assert_eq!(
            urls.last_frame,
            "http://127.0.0.1:9/_sim/media/t-1.svg?frame=last"
        );
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let part = |start, end| ByteRange::Part { start, end };
        assert_eq!(byte_range("bytes=0-99", 1000), part(0, 99));
        assert_eq!(byte_range("bytes=0-", 1000), part(0, 999));
        assert_eq!(byte_range("bytes=900-5000", 1000), part(900, 999));
        assert_eq!(byte_range("bytes=-100", 1000), part(900, 999));
        assert_eq!(byte_range("bytes=-5000", 1000), part(0, 999));
        assert_eq!(byte_range("BYTES = 5-5", 1000), part(5, 5));
        assert_eq!(byte_range("bytes=1000-", 1000), ByteRange::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 1000), ByteRange::Unsatisfiable);
        assert_eq!(
            byte_range("bytes=99999999999999999999999-", 10),
            ByteRange::Unsatisfiable
        );
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,5-9",
            "items=0-1",
            "bytes=x-1",
            "bytes=-",
            "bytes",
            "",
        ] {
            assert_eq!(byte_range(ignored, 1000), ByteRange::Full, "{ignored}");
        }
    }

    #[test]
    fn frame_comes_from_the_query() {
        assert_eq!(Frame::from_query(None), Frame::First);
        assert_eq!(Frame::from_query(Some("frame=first")), Frame::First);
        assert_eq!(Frame::from_query(Some("a=b&frame=last")), Frame::Last);
    }

    #[test]
    fn wrap_breaks_on_words_cuts_long_ones_and_ellipsizes() {
        assert_eq!(
            wrap("a paper boat on a river", 10, 5),
            vec!["a paper", "boat on a", "river"]
        );
        assert_eq!(wrap("abcdefghijkl", 5, 5), vec!["abcde", "fghij", "kl"]);
        assert_eq!(wrap("one two three four", 7, 2), vec!["one two", "three…"]);
        assert_eq!(wrap("  \n\t ", 10, 3), Vec::<String>::new());
        assert_eq!(wrap("é\u{0}ü", 10, 3), vec!["é ü"]);
    }

    #[test]
    fn escape_covers_markup_and_controls() {
        assert_eq!(
            escape("<script>alert('x' & \"y\")</script>\u{1}"),
            "&lt;script&gt;alert(&apos;x&apos; &amp; &quot;y&quot;)&lt;/script&gt; "
        );
    }

    #[test]
    fn posters_show_the_escaped_prompt_and_differ_by_task_and_frame() {
        let item = json!({"prompt": "<script>alert(1)</script> & a boat", "model": "v4.5",
            "quality": "720p", "duration": 8, "video_width": 720, "video_height": 1280});
        let poster = Poster::from_item("task-a", &item);
        let svg = poster.svg(Frame::First);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\""));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{svg}"
        );
        assert!(svg.contains("v4.5 · 720p · 8 s"), "{svg}");
        assert!(svg.contains("first frame"));
        assert!(poster.svg(Frame::Last).contains("last frame"));
        let other = Poster::from_item("task-b", &item).svg(Frame::First);
        assert_ne!(svg, other, "each task has its own colors");
    }

    #[test]
    fn hsl_converts_known_colors() {
        assert_eq!(hsl_hex(0, 1.0, 0.5), "#ff0000");
        assert_eq!(hsl_hex(120, 1.0, 0.5), "#00ff00");
        assert_eq!(hsl_hex(240, 1.0, 0.5), "#0000ff");
        assert_eq!(hsl_hex(0, 0.0, 1.0), "#ffffff");
    }
}
