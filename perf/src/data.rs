//! The data generator. Everything comes from one [`Rng`] seeded with a constant, so the output
//! is byte-identical on every run; its shapes follow the upstream lexicons (app.bsky.feed.post,
//! app.bsky.feed.defs, app.bsky.embed.*, app.bsky.actor.defs, com.atproto.label.defs), and its
//! strings are valid for their formats (DIDs, handles, AT-URIs, CIDs, TIDs, datetimes,
//! languages), so strict parsers accept them too.

use serde_json::{Map, Value, json};

/// The number of posts in [`posts`].
pub const POSTS: usize = 100;
/// The number of feed items in [`timeline`].
pub const TIMELINE_ITEMS: usize = 16;

/// `POSTS` post records as one compact JSON array.
pub fn posts() -> String {
    let mut g = Gen::new(0x5eed_0001);
    let records: Vec<Value> = (0..POSTS).map(|i| g.post(i)).collect();
    serde_json::to_string(&records).expect("values serialize")
}

/// One `app.bsky.feed.getTimeline` output page as compact JSON.
pub fn timeline() -> String {
    let mut g = Gen::new(0x5eed_0002);
    let feed: Vec<Value> = (0..TIMELINE_ITEMS).map(|i| g.feed_view_post(i)).collect();
    let cursor = g.datetime();
    let page = obj(vec![
        ("feed", Value::Array(feed)),
        ("cursor", cursor.into()),
    ]);
    serde_json::to_string(&page).expect("values serialize")
}

/// SplitMix64: small, fast, and good enough to pick words.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

/// An object with its keys in the order given (`$type` first, as real data has it).
fn obj(fields: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "that",
    "for",
    "on",
    "with",
    "this",
    "just",
    "really",
    "today",
    "new",
    "post",
    "thread",
    "people",
    "time",
    "never",
    "always",
    "think",
    "know",
    "feel",
    "love",
    "weird",
    "good",
    "great",
    "actually",
    "morning",
    "coffee",
    "weekend",
    "release",
    "build",
    "compiler",
    "protocol",
    "federation",
    "timeline",
    "moderation",
    "feed",
    "photo",
    "garden",
    "cat",
    "dog",
    "music",
    "album",
    "game",
    "book",
    "chapter",
    "train",
    "city",
    "rain",
    "sunset",
    "mountain",
    "ocean",
    "deploy",
    "server",
    "latency",
    "schema",
    "lexicon",
    "record",
    "repository",
    "account",
    "labeler",
    "starter",
    "pack",
    "follow",
    "reply",
    "quote",
    "repost",
    "anyway",
    "honestly",
    "finally",
    "tomorrow",
    "yesterday",
];
const WORDS_JA: &[&str] = &[
    "今日は",
    "とても",
    "良い",
    "天気",
    "ですね",
    "新しい",
    "投稿",
    "コーヒー",
    "猫",
    "写真",
    "ありがとう",
    "楽しみ",
    "週末",
    "電車",
    "東京",
    "桜",
    "ラーメン",
    "仕事",
    "終わった",
];
const WORDS_DE: &[&str] = &[
    "heute",
    "wirklich",
    "schön",
    "Grüße",
    "aus",
    "München",
    "über",
    "Straße",
    "Kaffee",
    "Wochenende",
    "endlich",
    "größer",
    "Bücher",
    "Zug",
    "Verspätung",
];
const WORDS_PT: &[&str] = &[
    "hoje",
    "muito",
    "obrigado",
    "café",
    "manhã",
    "ação",
    "não",
    "São",
    "Paulo",
    "praia",
    "coração",
    "você",
    "também",
    "notícia",
];
const EMOJI: &[&str] = &[
    "🦋",
    "☕",
    "🎉",
    "😂",
    "🔥",
    "✨",
    "🌧️",
    "👍🏽",
    "🇯🇵",
    "🏳️‍🌈",
    "👨‍👩‍👧",
    "❤️",
];
pub(crate) const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "hanna",
    "joao", "marta", "kenji", "aiko", "lukas", "sofia", "mateus",
];
pub(crate) const DISPLAY: &[&str] = &[
    "Alice 🦋",
    "Bob the Builder",
    "Carol Nguyen",
    "Dave",
    "Erin ✨",
    "Frank Müller",
    "Grace Hopper Fan",
    "Heidi",
    "Ivan Petrov",
    "Judy",
    "Mallory (she/her)",
    "Niaj",
    "Olivia Costa",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "ゆき",
    "Hanna Schäfer",
    "João Silva",
    "Marta",
    "健二",
    "愛子",
    "Lukas",
    "Sofía",
    "Mateus",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "news.example.org",
    "blog.example.net",
    "www.example.dev",
    "docs.example.io",
    "video.example.tv",
];
const TAGS: &[&str] = &[
    "rustlang",
    "atproto",
    "photography",
    "caturday",
    "bookclub",
    "gamedev",
    "música",
    "写真",
    "TIL",
    "opensource",
    "buildinpublic",
    "birds",
];
const LANGS: &[&[&str]] = &[
    &["en"],
    &["en"],
    &["en"],
    &["en"],
    &["ja"],
    &["de"],
    &["pt-BR"],
    &["en", "ja"],
    &["es"],
    &["fr"],
];
const ALT: &[&str] = &[
    "A grey tabby cat asleep on a stack of books next to a window, late afternoon light.",
    "Screenshot of a terminal: cargo build finishing in 12.3 seconds, with two warnings about unused imports highlighted in yellow.",
    "Sunset over the sea, orange and purple clouds, a small sailing boat on the horizon.",
    "A bowl of ramen with a soft-boiled egg, nori, spring onions and chashu on a wooden table.",
    "Chart of requests per second over one week, with a dip on Tuesday night during the migration.",
    "Hand-drawn sketch of a butterfly made of network nodes connected by thin lines.",
    "",
];
const TITLES: &[&str] = &[
    "How we cut our build times in half",
    "The state of decentralised social media in 2026",
    "A field guide to city birds",
    "Release notes: version 2.4",
    "Why your JSON parser is slower than it should be",
    "Ten recipes for a rainy weekend",
];
const DESCRIPTIONS: &[&str] = &[
    "A long read on incremental compilation, code generation and the price of generic code, with measurements on real projects.",
    "What changed this year for open protocols, moderation services and the people who build on them.",
    "Pigeons, sparrows, crows and the occasional falcon: how to tell them apart on your way to work.",
    "Bug fixes, faster startup and a new settings page. Thanks to everyone who reported issues.",
    "",
];
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
pub(crate) const TID_CHARS: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A piece of post text with what its facet (if any) points at.
enum Piece {
    Plain(String),
    Mention(String, String),
    Link(String),
    Tag(String),
}

/// The generator behind [`posts`] and [`timeline`], shared with [`crate::firehose`] for
/// record content.
pub(crate) struct Gen {
    pub(crate) rng: Rng,
    /// Seconds since the Unix epoch of "now" (2026-08-20T12:00:00Z), going back as we go.
    clock: u64,
}

impl Gen {
    pub(crate) fn new(seed: u64) -> Self {
        Gen {
            rng: Rng::new(seed),
            clock: 1_787_227_200,
        }
    }

    fn base32(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| BASE32[self.rng.below(32) as usize] as char)
            .collect()
    }

    pub(crate) fn did(&mut self) -> String {
        format!("did:plc:{}", self.base32(24))
    }

    /// A CIDv1, sha2-256, in base32: `codec` 0x71 (dag-cbor, records) or 0x55 (raw, blobs).
    fn cid(&mut self, codec: u8) -> String {
        let mut bytes = vec![0x01, codec, 0x12, 0x20];
        bytes.extend((0..32).map(|_| self.rng.below(256) as u8));
        let mut out = String::from("b");
        let (mut buffer, mut bits) = (0u32, 0u32);
        for byte in bytes {
            buffer = (buffer << 8) | byte as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    fn tid(&mut self) -> String {
        let micros = self.clock * 1_000_000 + self.rng.below(1_000_000);
        let mut v = (micros << 10) | self.rng.below(1024);
        v &= (1 << 63) - 1;
        let mut chars = [0u8; 13];
        for c in chars.iter_mut().rev() {
            *c = TID_CHARS[(v & 31) as usize];
            v >>= 5;
        }
        String::from_utf8(chars.to_vec()).expect("ascii")
    }

    fn at_uri(&mut self, did: &str, collection: &str) -> String {
        format!("at://{did}/{collection}/{}", self.tid())
    }

    /// RFC 3339 with milliseconds and `Z`, a little earlier each call.
    fn datetime(&mut self) -> String {
        self.clock -= self.rng.range(5, 900);
        let millis = self.rng.below(1000);
        format_datetime(self.clock, millis)
    }

    pub(crate) fn handle(&mut self, name: &str) -> String {
        if self.rng.chance(20) {
            format!("{name}.{}", self.rng.pick(&["com", "dev", "net", "social"]))
        } else {
            format!("{name}{}.bsky.social", self.rng.below(100))
        }
    }

    pub(crate) fn blob(&mut self, mime: &str, low: u64, high: u64) -> Value {
        let cid = self.cid(0x55);
        obj(vec![
            ("$type", "blob".into()),
            ("ref", obj(vec![("$link", cid.into())])),
            ("mimeType", mime.into()),
            ("size", self.rng.range(low, high).into()),
        ])
    }

    fn aspect_ratio(&mut self) -> Value {
        let (w, h) = *self.rng.pick(&[
            (1000, 750),
            (1080, 1350),
            (2000, 1125),
            (1200, 1200),
            (750, 1000),
        ]);
        obj(vec![("width", w.into()), ("height", h.into())])
    }

    pub(crate) fn strong_ref(&mut self, collection: &str) -> Value {
        let did = self.did();
        let uri = self.at_uri(&did, collection);
        obj(vec![("uri", uri.into()), ("cid", self.cid(0x71).into())])
    }

    pub(crate) fn words(&mut self, lang: &str, n: u64) -> String {
        let list = match lang {
            "ja" => WORDS_JA,
            "de" => WORDS_DE,
            "pt-BR" => WORDS_PT,
            _ => WORDS,
        };
        let sep = if lang == "ja" { "" } else { " " };
        let mut out = String::new();
        for i in 0..n {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(self.rng.pick::<&str>(list));
            if self.rng.chance(4) {
                out.push_str(self.rng.pick::<&str>(EMOJI));
            }
        }
        out
    }

    /// Post text and its facets, byte offsets counted in UTF-8 as the lexicon says.
    fn text_and_facets(&mut self, lang: &str) -> (String, Vec<Value>) {
        let mut pieces = Vec::new();
        let n = self.rng.range(2, 5);
        for _ in 0..n {
            let count = self.rng.range(4, 18);
            pieces.push(Piece::Plain(self.words(lang, count)));
            match self.rng.below(10) {
                0 | 1 => {
                    let name = *self.rng.pick(NAMES);
                    let handle = self.handle(name);
                    pieces.push(Piece::Mention(format!("@{handle}"), self.did()));
                }
                2 | 3 => {
                    let domain = *self.rng.pick(DOMAINS);
                    let len = self.rng.range(4, 16) as usize;
                    let path = self.base32(len);
                    pieces.push(Piece::Link(format!("https://{domain}/{path}")));
                }
                4 => pieces.push(Piece::Tag((*self.rng.pick(TAGS)).to_owned())),
                _ => {}
            }
        }
        let mut text = String::new();
        let mut facets = Vec::new();
        for piece in pieces {
            // At most 300 graphemes (and so 300 chars or fewer) are allowed: stop before.
            let chars = match &piece {
                Piece::Plain(s) | Piece::Mention(s, _) | Piece::Link(s) => s.chars().count(),
                Piece::Tag(s) => s.chars().count() + 1,
            };
            if text.chars().count() + 1 + chars > 300 {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            let start = text.len();
            let feature = match piece {
                Piece::Plain(s) => {
                    text.push_str(&s);
                    continue;
                }
                Piece::Mention(shown, did) => {
                    text.push_str(&shown);
                    obj(vec![
                        ("$type", "app.bsky.richtext.facet#mention".into()),
                        ("did", did.into()),
                    ])
                }
                Piece::Link(uri) => {
                    text.push_str(&uri);
                    obj(vec![
                        ("$type", "app.bsky.richtext.facet#link".into()),
                        ("uri", uri.into()),
                    ])
                }
                Piece::Tag(tag) => {
                    text.push('#');
                    text.push_str(&tag);
                    obj(vec![
                        ("$type", "app.bsky.richtext.facet#tag".into()),
                        ("tag", tag.into()),
                    ])
                }
            };
            let index = obj(vec![
                ("byteStart", start.into()),
                ("byteEnd", text.len().into()),
            ]);
            let mut fields = Vec::new();
            if self.rng.chance(50) {
                fields.push(("$type", "app.bsky.richtext.facet".into()));
            }
            fields.push(("index", index));
            fields.push(("features", Value::Array(vec![feature])));
            facets.push(obj(fields));
        }
        (text, facets)
    }

    fn images(&mut self) -> Value {
        let n = *self.rng.pick(&[1, 1, 1, 2, 2, 3, 4]);
        let images: Vec<Value> = (0..n)
            .map(|_| {
                let alt = (*self.rng.pick(ALT)).to_owned();
                let mut fields = vec![
                    ("alt", alt.into()),
                    ("image", self.blob("image/jpeg", 40_000, 990_000)),
                ];
                if self.rng.chance(85) {
                    fields.push(("aspectRatio", self.aspect_ratio()));
                }
                obj(fields)
            })
            .collect();
        obj(vec![
            ("$type", "app.bsky.embed.images".into()),
            ("images", Value::Array(images)),
        ])
    }

    fn external(&mut self) -> Value {
        let domain = *self.rng.pick(DOMAINS);
        let len = self.rng.range(8, 30) as usize;
        let path = self.base32(len);
        let mut external = vec![
            ("uri", format!("https://{domain}/articles/{path}").into()),
            ("title", (*self.rng.pick(TITLES)).into()),
            ("description", (*self.rng.pick(DESCRIPTIONS)).into()),
        ];
        if self.rng.chance(75) {
            external.push(("thumb", self.blob("image/jpeg", 10_000, 900_000)));
        }
        obj(vec![
            ("$type", "app.bsky.embed.external".into()),
            ("external", obj(external)),
        ])
    }

    fn video(&mut self) -> Value {
        let mut fields = vec![
            ("$type", "app.bsky.embed.video".into()),
            ("video", self.blob("video/mp4", 1_000_000, 50_000_000)),
        ];
        if self.rng.chance(40) {
            let captions = vec![obj(vec![
                ("lang", "en".into()),
                ("file", self.blob("text/vtt", 500, 19_000)),
            ])];
            fields.push(("captions", Value::Array(captions)));
        }
        if self.rng.chance(60) {
            fields.push(("alt", (*self.rng.pick(ALT)).into()));
        }
        fields.push(("aspectRatio", self.aspect_ratio()));
        obj(fields)
    }

    fn record_embed(&mut self) -> Value {
        let target = self.strong_ref("app.bsky.feed.post");
        obj(vec![
            ("$type", "app.bsky.embed.record".into()),
            ("record", target),
        ])
    }

    fn record_with_media(&mut self) -> Value {
        let media = match self.rng.below(3) {
            0 => self.video(),
            1 => self.external(),
            _ => self.images(),
        };
        obj(vec![
            ("$type", "app.bsky.embed.recordWithMedia".into()),
            ("media", media),
            ("record", self.record_embed()),
        ])
    }

    /// One post record; `i` spreads the embed kinds evenly over the set.
    pub(crate) fn post(&mut self, i: usize) -> Value {
        let lang = *self.rng.pick(LANGS);
        let (text, facets) = self.text_and_facets(lang[0]);
        let mut fields = vec![
            ("$type", "app.bsky.feed.post".into()),
            ("createdAt", self.datetime().into()),
        ];
        match i % 10 {
            0..=2 => fields.push(("embed", self.images())),
            3 => fields.push(("embed", self.external())),
            4 => fields.push(("embed", self.record_embed())),
            5 => fields.push(("embed", self.record_with_media())),
            6 => fields.push(("embed", self.video())),
            _ => {}
        }
        if !facets.is_empty() {
            fields.push(("facets", Value::Array(facets)));
        }
        if self.rng.chance(8) {
            let val = *self
                .rng
                .pick(&["graphic-media", "nudity", "sexual", "porn"]);
            fields.push((
                "labels",
                obj(vec![
                    ("$type", "com.atproto.label.defs#selfLabels".into()),
                    ("values", json!([{ "val": val }])),
                ]),
            ));
        }
        fields.push((
            "langs",
            Value::Array(lang.iter().map(|l| (*l).into()).collect()),
        ));
        if self.rng.chance(30) {
            let root = self.strong_ref("app.bsky.feed.post");
            let parent = if self.rng.chance(50) {
                root.clone()
            } else {
                self.strong_ref("app.bsky.feed.post")
            };
            fields.push(("reply", obj(vec![("parent", parent), ("root", root)])));
        }
        if self.rng.chance(10) {
            let tags: Vec<Value> = (0..self.rng.range(1, 3))
                .map(|_| (*self.rng.pick(TAGS)).into())
                .collect();
            fields.push(("tags", Value::Array(tags)));
        }
        fields.push(("text", text.into()));
        obj(fields)
    }

    // -- views (getTimeline) ------------------------------------------------------------------

    fn label(&mut self, uri: &str) -> Value {
        obj(vec![
            ("ver", 1.into()),
            ("src", self.did().into()),
            ("uri", uri.into()),
            (
                "val",
                (*self.rng.pick(&["!no-unauthenticated", "porn", "spam"])).into(),
            ),
            ("cts", self.datetime().into()),
        ])
    }

    fn profile_basic(&mut self) -> Value {
        let k = self.rng.below(NAMES.len() as u64) as usize;
        let did = self.did();
        let mut fields = vec![
            ("did", Value::from(did.clone())),
            ("handle", self.handle(NAMES[k]).into()),
            ("displayName", DISPLAY[k].into()),
        ];
        let avatar_cid = self.cid(0x55);
        fields.push((
            "avatar",
            format!("https://cdn.bsky.app/img/avatar/plain/{did}/{avatar_cid}@jpeg").into(),
        ));
        if self.rng.chance(40) {
            let allow = *self.rng.pick(&["all", "following", "none"]);
            fields.push((
                "associated",
                obj(vec![("chat", obj(vec![("allowIncoming", allow.into())]))]),
            ));
        }
        let mut viewer = vec![("muted", false.into()), ("blockedBy", false.into())];
        if self.rng.chance(70) {
            let me = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
            viewer.push(("following", self.at_uri(me, "app.bsky.graph.follow").into()));
        }
        fields.push(("viewer", obj(viewer)));
        let labels = if self.rng.chance(5) {
            let uri = format!("at://{did}/app.bsky.actor.profile/self");
            vec![self.label(&uri)]
        } else {
            vec![]
        };
        fields.push(("labels", Value::Array(labels)));
        fields.push(("createdAt", self.datetime().into()));
        if self.rng.chance(10) {
            let verification = obj(vec![
                ("verifications", Value::Array(vec![])),
                ("verifiedStatus", "none".into()),
                ("trustedVerifierStatus", "none".into()),
            ]);
            fields.push(("verification", verification));
        }
        obj(fields)
    }

    fn cdn(&mut self, kind: &str, did: &str) -> String {
        let cid = self.cid(0x55);
        format!("https://cdn.bsky.app/img/{kind}/plain/{did}/{cid}@jpeg")
    }

    /// The view of an embed record, for an author `did`.
    fn embed_view(&mut self, embed: &Value, did: &str) -> Option<Value> {
        let kind = embed.get("$type")?.as_str()?;
        Some(match kind {
            "app.bsky.embed.images" => {
                let images: Vec<Value> = embed["images"]
                    .as_array()?
                    .iter()
                    .map(|image| {
                        let mut fields = vec![
                            ("thumb", self.cdn("feed_thumbnail", did).into()),
                            ("fullsize", self.cdn("feed_fullsize", did).into()),
                            ("alt", image["alt"].clone()),
                        ];
                        if let Some(ratio) = image.get("aspectRatio") {
                            fields.push(("aspectRatio", ratio.clone()));
                        }
                        obj(fields)
                    })
                    .collect();
                obj(vec![
                    ("$type", "app.bsky.embed.images#view".into()),
                    ("images", Value::Array(images)),
                ])
            }
            "app.bsky.embed.external" => {
                let external = &embed["external"];
                let mut fields = vec![
                    ("uri", external["uri"].clone()),
                    ("title", external["title"].clone()),
                    ("description", external["description"].clone()),
                ];
                if external.get("thumb").is_some() {
                    fields.push(("thumb", self.cdn("feed_thumbnail", did).into()));
                }
                obj(vec![
                    ("$type", "app.bsky.embed.external#view".into()),
                    ("external", obj(fields)),
                ])
            }
            "app.bsky.embed.video" => {
                let cid = embed["video"]["ref"]["$link"].clone();
                let c = cid.as_str().unwrap_or_default().to_owned();
                let mut fields = vec![
                    ("$type", "app.bsky.embed.video#view".into()),
                    ("cid", cid),
                    (
                        "playlist",
                        format!("https://video.bsky.app/watch/{did}/{c}/playlist.m3u8").into(),
                    ),
                    (
                        "thumbnail",
                        format!("https://video.bsky.app/watch/{did}/{c}/thumbnail.jpg").into(),
                    ),
                ];
                if let Some(alt) = embed.get("alt") {
                    fields.push(("alt", alt.clone()));
                }
                fields.push(("aspectRatio", embed["aspectRatio"].clone()));
                obj(fields)
            }
            "app.bsky.embed.record" => {
                let target = &embed["record"];
                let record = match self.rng.below(10) {
                    0 => obj(vec![
                        ("$type", "app.bsky.embed.record#viewNotFound".into()),
                        ("uri", target["uri"].clone()),
                        ("notFound", true.into()),
                    ]),
                    1 => obj(vec![
                        ("$type", "app.bsky.embed.record#viewDetached".into()),
                        ("uri", target["uri"].clone()),
                        ("detached", true.into()),
                    ]),
                    _ => {
                        let author = self.profile_basic();
                        let value = self.post(7);
                        obj(vec![
                            ("$type", "app.bsky.embed.record#viewRecord".into()),
                            ("uri", target["uri"].clone()),
                            ("cid", target["cid"].clone()),
                            ("author", author),
                            ("value", value),
                            ("labels", Value::Array(vec![])),
                            ("likeCount", self.rng.below(500).into()),
                            ("replyCount", self.rng.below(40).into()),
                            ("repostCount", self.rng.below(80).into()),
                            ("quoteCount", self.rng.below(10).into()),
                            ("indexedAt", self.datetime().into()),
                            ("embeds", Value::Array(vec![])),
                        ])
                    }
                };
                obj(vec![
                    ("$type", "app.bsky.embed.record#view".into()),
                    ("record", record),
                ])
            }
            "app.bsky.embed.recordWithMedia" => {
                let record = self.embed_view(&embed["record"], did)?;
                let media = self.embed_view(&embed["media"], did)?;
                obj(vec![
                    ("$type", "app.bsky.embed.recordWithMedia#view".into()),
                    ("record", record),
                    ("media", media),
                ])
            }
            _ => return None,
        })
    }

    fn post_view(&mut self, i: usize) -> Value {
        let author = self.profile_basic();
        let did = author["did"].as_str().unwrap_or_default().to_owned();
        let record = self.post(i);
        let uri = self.at_uri(&did, "app.bsky.feed.post");
        let mut fields = vec![
            ("uri", Value::from(uri.clone())),
            ("cid", self.cid(0x71).into()),
            ("author", author),
        ];
        let embed = record
            .get("embed")
            .cloned()
            .and_then(|e| self.embed_view(&e, &did));
        fields.push(("record", record));
        if let Some(embed) = embed {
            fields.push(("embed", embed));
        }
        fields.push(("bookmarkCount", self.rng.below(20).into()));
        fields.push(("replyCount", self.rng.below(60).into()));
        fields.push(("repostCount", self.rng.below(200).into()));
        fields.push(("likeCount", self.rng.below(2000).into()));
        fields.push(("quoteCount", self.rng.below(15).into()));
        fields.push(("indexedAt", self.datetime().into()));
        let mut viewer = vec![
            ("bookmarked", false.into()),
            ("threadMuted", false.into()),
            ("embeddingDisabled", false.into()),
        ];
        if self.rng.chance(20) {
            let me = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
            viewer.insert(0, ("like", self.at_uri(me, "app.bsky.feed.like").into()));
        }
        fields.push(("viewer", obj(viewer)));
        let labels = if self.rng.chance(5) {
            vec![self.label(&uri)]
        } else {
            vec![]
        };
        fields.push(("labels", Value::Array(labels)));
        obj(fields)
    }

    fn feed_view_post(&mut self, i: usize) -> Value {
        let mut fields = vec![("post", self.post_view(i))];
        if self.rng.chance(25) {
            let mut root = self.post_view(9);
            root.as_object_mut()
                .expect("an object")
                .insert("$type".into(), "app.bsky.feed.defs#postView".into());
            let reply = obj(vec![("root", root.clone()), ("parent", root)]);
            fields.push(("reply", reply));
        } else if self.rng.chance(20) {
            let by = self.profile_basic();
            let did = by["did"].as_str().unwrap_or_default().to_owned();
            let reason = obj(vec![
                ("$type", "app.bsky.feed.defs#reasonRepost".into()),
                ("by", by),
                ("uri", self.at_uri(&did, "app.bsky.feed.repost").into()),
                ("cid", self.cid(0x71).into()),
                ("indexedAt", self.datetime().into()),
            ]);
            fields.push(("reason", reason));
        }
        if self.rng.chance(50) {
            let context = format!("t-{}", self.base32(12));
            fields.push(("feedContext", context.into()));
        }
        obj(fields)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of Unix seconds.
pub(crate) fn format_datetime(seconds: u64, millis: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime() {
        assert_eq!(format_datetime(0, 5), "1970-01-01T00:00:00.005Z");
        assert_eq!(
            format_datetime(1_787_227_200, 0),
            "2026-08-20T12:00:00.000Z"
        );
    }

    #[test]
    fn deterministic() {
        assert_eq!(posts(), posts());
        assert_eq!(timeline(), timeline());
    }
}
