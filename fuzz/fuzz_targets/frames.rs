//! Event-stream frames, CAR files and repository trees from arbitrary bytes: a clear error or
//! a value, never a panic. The generated crate's readers (`Message::read_frame`, `Car::read`,
//! `CarFile::open`, the record walk, `AnyRecord::from_cbor`) are what a firehose consumer runs
//! on untrusted network input.
#![no_main]

use atproto_api::com::atproto::sync::subscribe_repos::Message;
use atproto_api::runtime::car::{Car, CarError, CarFile};
use atproto_api::runtime::cbor::Frame;
use atproto_api::runtime::cid::Cid;
use atproto_api::runtime::repo::{BlockSource, RepoRecords};
use libfuzzer_sys::fuzz_target;

/// Blocks whose CIDs the fuzzer cannot forge (a CAR file's are checked against SHA-256), so
/// for the tree walk any link resolves: to the block picked by its digest's first byte. That
/// lets the fuzzer's own tree nodes, links and keys reach every step of the walk.
struct AnyLink<'a>(Vec<&'a [u8]>);

impl<'a> BlockSource for AnyLink<'a> {
    type Bytes = &'a [u8];
    fn block(&mut self, cid: &Cid) -> Result<Option<&'a [u8]>, CarError> {
        let pick = cid.hash().digest().first().copied().unwrap_or(0) as usize;
        Ok(self.0.get(pick % self.0.len().max(1)).copied())
    }
}

fuzz_target!(|data: &[u8]| {
    // A commit's blocks are read as the consumer would: as a CAR file, in memory and from a
    // reader, walked as a repository.
    if let Ok(Frame::Message(Message::Commit(commit))) = Message::read_frame(data) {
        car(commit.blocks.as_slice());
    }
    car(data);
    // The bytes as blocks separated by 0xff; every link, the commit's included, picks one.
    let mut source = AnyLink(data.split(|b| *b == 0xff).collect());
    let root = Cid::default();
    if let Ok(walk) = RepoRecords::new(&mut source, Some(&root)) {
        walk.take(10_000).for_each(drop);
    }
});

fn car(data: &[u8]) {
    if let Ok(car) = Car::read(data) {
        if let Ok(records) = car.repo_records() {
            for record in records {
                let _ = atproto_api::AnyRecord::from_cbor(record.collection(), record.bytes);
            }
        }
        for (_, bytes) in car.blocks() {
            let _ = atproto_api::AnyRecord::from_cbor("app.bsky.feed.post", bytes);
        }
    }
    if let Ok(mut car) = CarFile::open(std::io::Cursor::new(data)) {
        if let Ok(records) = car.repo_records() {
            records.take(10_000).for_each(drop);
        }
    }
}
