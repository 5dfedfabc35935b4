//! Decodes one gzip body from stdin with flate2 and writes the plain bytes to stdout; exits 1 with
//! the decoder's error on stderr when flate2 refuses the body (bad header, bad deflate data, CRC
//! or length mismatch in the trailer, truncation).
//!
//! Usage: flate2-decode [gz|multi] [CHUNK]
//!   gz     flate2's GzDecoder: one gzip member; any bytes after it are an error here, since a
//!          reply must be exactly one member (GzDecoder itself would ignore them).
//!   multi  flate2's MultiGzDecoder: every member, concatenated.
//!
//! The `bufread` decoders are used (`read::GzDecoder` is the same decoder over a `BufReader`), so
//! that what the decoder left unread can be counted exactly.
//!   CHUNK  hand the decoder at most CHUNK bytes per read, as a network stream arrives in pieces
//!          (default: the whole body at once).

use flate2::bufread::{GzDecoder, MultiGzDecoder};
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

/// A buffered reader that offers at most `chunk` bytes at a time.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.data[..self.chunk.min(self.data.len())])
    }

    fn consume(&mut self, amount: usize) {
        self.data = &self.data[amount..];
    }
}

fn decode(input: &[u8], mode: &str, chunk: usize) -> io::Result<Vec<u8>> {
    let reader = Trickle { data: input, chunk };
    let mut plain = Vec::new();
    match mode {
        "gz" => {
            let mut decoder = GzDecoder::new(reader);
            decoder.read_to_end(&mut plain)?;
            let rest = decoder.into_inner().data.len();
            if rest > 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{rest} bytes after the gzip member")));
            }
        }
        "multi" => {
            MultiGzDecoder::new(reader).read_to_end(&mut plain)?;
        }
        other => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unknown mode {other:?} (gz or multi)"))),
    }
    Ok(plain)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("gz");
    let chunk = match args.get(1).map(|s| s.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("flate2-decode: CHUNK must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = io::stdin().read_to_end(&mut input) {
        eprintln!("flate2-decode: reading stdin: {e}");
        return ExitCode::from(2);
    }
    match decode(&input, mode, chunk) {
        Ok(plain) => match io::stdout().lock().write_all(&plain) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("flate2-decode: writing stdout: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("flate2-decode: {e}");
            ExitCode::from(1)
        }
    }
}
