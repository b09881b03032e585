//! Prints rtap's decoding of A64 words next to bad64's and yaxpeax-arm's, for investigating a
//! cross-check failure: `cargo run -p rtap-kmod --example decode_compare -- d503233f 5500001f`.

use yaxpeax_arch::{Decoder, U8Reader};

fn main() {
    for arg in std::env::args().skip(1) {
        let Ok(word) = u32::from_str_radix(arg.trim_start_matches("0x"), 16) else {
            eprintln!("not a hexadecimal word: {arg}");
            continue;
        };
        let bad64 = match bad64::decode(word, 0x4000_0000) {
            Ok(insn) => insn.to_string(),
            Err(err) => format!("error {err:?}"),
        };
        let bytes = word.to_le_bytes();
        let yaxpeax = match yaxpeax_arm::armv8::a64::InstDecoder::default()
            .decode(&mut U8Reader::new(&bytes))
        {
            Ok(insn) => insn.to_string(),
            Err(err) => format!("error {err:?}"),
        };
        let rtap = rtap_kmod::arch::aarch64::decode::decode(word);
        println!("{word:#010x}: rtap={rtap:?} bad64={bad64} yaxpeax={yaxpeax}");
    }
}
