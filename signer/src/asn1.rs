//! Just enough DER tag-length-value handling to take structures apart and put edited
//! ones back together byte for byte (x509-cert keeps its fields private, and signatures
//! cover exact encodings). Only single-byte tags, which is all X.509/CMS use here.

/// One DER element: its tag, its contents, and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) content: &'a [u8],
    pub(crate) whole: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let short = || "truncated DER".to_string();
    let tag = *input.first().ok_or_else(short)?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte DER tags are not supported".into());
    }
    let first = *input.get(1).ok_or_else(short)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err("unsupported DER length".into());
        }
        let bytes = input.get(2..2 + n).ok_or_else(short)?;
        let len = bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        if len < 0x80 || bytes[0] == 0 {
            return Err("non-minimal DER length".into());
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len).ok_or_else(short)?;
    let whole = input.get(..end).ok_or_else(short)?;
    Ok((
        Tlv {
            tag,
            content: &whole[header..],
            whole,
        },
        &input[end..],
    ))
}

/// Reads exactly one element of `tag` that spans all of `input`.
pub(crate) fn read_only(input: &[u8], tag: u8) -> Result<Tlv<'_>, String> {
    let (t, rest) = read(input)?;
    if t.tag != tag {
        return Err(format!("expected DER tag {tag:#04x}, found {:#04x}", t.tag));
    }
    if !rest.is_empty() {
        return Err("trailing bytes after DER element".into());
    }
    Ok(t)
}

/// All elements inside `content`, in order.
pub(crate) fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (t, rest) = read(content)?;
        out.push(t);
        content = rest;
    }
    Ok(out)
}

/// Encodes `tag` + DER length + `content`.
pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; n];
            let enc = encode(0x04, &content);
            let (t, rest) = read(&enc).unwrap();
            assert_eq!((t.tag, t.content.len(), rest.len()), (0x04, n, 0));
            assert_eq!(t.whole, &enc[..]);
        }
        assert!(read(&[0x30, 0x81, 0x05, 0]).is_err(), "non-minimal length");
        assert!(read(&[0x30, 0x05, 0]).is_err(), "truncated");
        assert!(
            read_only(&[0x04, 0x00, 0x00], 0x04).is_err(),
            "trailing byte"
        );
    }
}
