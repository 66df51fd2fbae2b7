//! Event-stream frames and CAR files from arbitrary bytes: a clear error or a value, never a
//! panic. The generated crate's readers (`Message::read_frame`, `Car::read`, the record walk,
//! `AnyRecord::from_cbor`) are what a firehose consumer runs on untrusted network input.
#![no_main]

use atproto_api::com::atproto::sync::subscribe_repos::Message;
use atproto_api::runtime::car::Car;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Message::read_frame(data);
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
});
