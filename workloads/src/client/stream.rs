//! The byte stream each connection sends: every byte of every echo is checked against it.

/// The byte at `index` of message `request` on connection `conn`: every echo is checked.
pub fn pattern(conn: u64, request: u64, index: u64) -> u8 {
    (conn.wrapping_mul(131).wrapping_add(request.wrapping_mul(31)).wrapping_add(index) % 251) as u8
}

/// Fills `out` with the stream of connection `conn` from byte `offset` on.
pub fn fill(out: &mut [u8], conn: u64, size: u64, offset: u64) {
    for (i, b) in out.iter_mut().enumerate() {
        let p = offset + i as u64;
        *b = pattern(conn, p / size, p % size);
    }
}

/// First mismatch of `got` against the stream at `offset`.
pub fn verify(got: &[u8], conn: u64, size: u64, offset: u64) -> Option<u64> {
    got.iter().enumerate().find_map(|(i, &b)| {
        let p = offset + i as u64;
        (b != pattern(conn, p / size, p % size)).then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_verify_agree_across_message_boundaries() {
        let mut b = vec![0u8; 1000];
        fill(&mut b, 3, 64, 100);
        assert_eq!(verify(&b, 3, 64, 100), None);
        assert_eq!(b[0], pattern(3, 1, 36));
        b[500] ^= 1;
        assert_eq!(verify(&b, 3, 64, 100), Some(600));
        assert!(verify(&b[..10], 4, 64, 100).is_some(), "another connection's stream differs");
    }
}
