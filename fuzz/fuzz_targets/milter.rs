//! What a filter may send carrier: any bytes, split anyhow. The reader never panics, never
//! allocates more than the packet limit, and yields the same replies however the bytes arrive.
#![no_main]

use carrier_milter::Reader;
use libfuzzer_sys::fuzz_target;

fn replies(chunks: impl Iterator<Item = Vec<u8>>) -> Vec<String> {
    let mut r = Reader::default();
    let mut out = Vec::new();
    for chunk in chunks {
        r.feed(&chunk);
        loop {
            match r.next_reply() {
                Ok(Some(reply)) => out.push(format!("{reply:?}")),
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("error {e}"));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let whole = replies(std::iter::once(bytes.to_vec()));
    let step = usize::from(split).max(1);
    let pieces = replies(bytes.chunks(step).map(<[u8]>::to_vec));
    assert_eq!(whole, pieces, "replies depend on how the bytes arrived");
});
