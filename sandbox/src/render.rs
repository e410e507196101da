//! A readable terminal rendering of a webhook post: what a user sees in `make demo`.

use serde_json::Value;

const WIDTH: usize = 72;

/// Discord's named colours (the `discord.js` palette), else `#rrggbb`.
pub fn colour_name(c: u64) -> String {
    let name = match c {
        0x57F287 | 0x2ECC71 | 0x1F8B4C => "green",
        0xED4245 | 0xE74C3C | 0x992D22 => "red",
        0xFEE75C | 0xF1C40F | 0xC27C0E => "yellow",
        0x3498DB | 0x206694 | 0x5865F2 => "blue",
        0xE67E22 | 0xA84300 => "orange",
        0x95A5A6 | 0x979C9F | 0x607D8B => "grey",
        0x9B59B6 | 0x71368A => "purple",
        0xFFFFFF => "white",
        0 => "default",
        _ => return format!("#{c:06x}"),
    };
    name.to_string()
}

fn line(out: &mut String, text: &str) {
    for l in text.lines() {
        out.push_str("│ ");
        out.push_str(l);
        out.push('\n');
    }
    if text.is_empty() {
        out.push_str("│\n");
    }
}

/// Renders a webhook body (`content`, `embeds`, `flags`, `username`) as a box of text.
pub fn render(post: &Value) -> String {
    let mut out = String::new();
    let mut header = format!(
        "─ Discord: {} ",
        post["username"].as_str().unwrap_or("webhook")
    );
    let flags = post["flags"].as_u64().unwrap_or(0);
    if flags & (1 << 12) != 0 {
        header.push_str("(silent) ");
    }
    if flags & (1 << 2) != 0 {
        header.push_str("(embeds suppressed) ");
    }
    let pad = WIDTH.saturating_sub(header.chars().count());
    out.push('┌');
    out.push_str(&header);
    out.push_str(&"─".repeat(pad));
    out.push('\n');
    if let Some(content) = post["content"].as_str().filter(|c| !c.is_empty()) {
        line(&mut out, content);
    }
    for embed in post["embeds"].as_array().into_iter().flatten() {
        let colour = embed["color"]
            .as_u64()
            .map(|c| format!(" [{}]", colour_name(c)))
            .unwrap_or_default();
        if let Some(author) = embed["author"]["name"].as_str() {
            line(&mut out, &format!("▌ {author}"));
        }
        let title = embed["title"].as_str().unwrap_or("");
        line(&mut out, &format!("▌ {title}{colour}"));
        if let Some(d) = embed["description"].as_str() {
            for l in d.lines() {
                line(&mut out, &format!("▌   {l}"));
            }
        }
        for f in embed["fields"].as_array().into_iter().flatten() {
            line(
                &mut out,
                &format!(
                    "▌   {}: {}",
                    f["name"].as_str().unwrap_or(""),
                    f["value"].as_str().unwrap_or("").replace('\n', " / ")
                ),
            );
        }
        if let Some(footer) = embed["footer"]["text"].as_str() {
            line(&mut out, &format!("▌   — {footer}"));
        }
        if let Some(t) = embed["timestamp"].as_str() {
            line(&mut out, &format!("▌   @ {t}"));
        }
    }
    out.push('└');
    out.push_str(&"─".repeat(WIDTH));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_content_embeds_fields_footer_colour_and_silence() {
        let text = render(&json!({
            "content": "<@123> cycle failed",
            "flags": 4096,
            "embeds": [{
                "title": "BUY 10 SPY", "description": "golden cross", "color": 0x2ECC71,
                "fields": [{"name": "status", "value": "filled"}, {"name": "price", "value": "505.5"}],
                "footer": {"text": "paper"}
            }, {"title": "odd", "color": 0x123456}]
        }));
        assert!(text.contains("(silent)"), "{text}");
        assert!(text.contains("│ <@123> cycle failed"), "{text}");
        assert!(text.contains("▌ BUY 10 SPY [green]"), "{text}");
        assert!(text.contains("▌   golden cross"), "{text}");
        assert!(text.contains("▌   status: filled"), "{text}");
        assert!(text.contains("▌   price: 505.5"), "{text}");
        assert!(text.contains("— paper"), "{text}");
        assert!(text.contains("[#123456]"), "{text}");
        assert!(text.starts_with('┌') && text.trim_end().ends_with('─'));
        assert!(!render(&json!({"content": "hi"})).contains("(silent)"));
    }
}
