//! Parsing of the `[limits]` table: sizes like `2G`, fractional CPUs, pid counts.

use serde::Deserialize;

/// A memory size as written in the config: bytes, or a string with a binary suffix.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeText {
    Bytes(u64),
    Text(String),
}

/// Parses `2G`, `512M`, `1.5GiB`, `4096`, `64k` into bytes (1024-based suffixes).
pub fn parse_size(value: &SizeText) -> Result<u64, String> {
    let text = match value {
        SizeText::Bytes(bytes) => return Ok(*bytes),
        SizeText::Text(text) => text.trim(),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (write e.g. 512M or 2G)"))?;
    let multiplier: u64 = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size suffix `{other}` in `{text}` (use K, M, G or T)"
            ))
        }
    };
    let bytes = number * multiplier as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> SizeText {
        SizeText::Text(s.to_string())
    }

    #[test]
    fn parses_binary_suffixes() {
        assert_eq!(parse_size(&text("2G")), Ok(2 << 30));
        assert_eq!(parse_size(&text("512M")), Ok(512 << 20));
        assert_eq!(parse_size(&text("1.5GiB")), Ok(3 << 29));
        assert_eq!(parse_size(&text("64k")), Ok(64 << 10));
        assert_eq!(parse_size(&SizeText::Bytes(4096)), Ok(4096));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_size(&text("lots")).is_err());
        assert!(parse_size(&text("2X")).is_err());
        assert!(parse_size(&text("0")).is_err());
    }
}
