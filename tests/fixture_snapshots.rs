//! One snapshot per construct fixture (`tests/fixtures/lexicons/com/example/fixture/*.json`).
//! Each snapshotted module also compiles: it is part of the `lexicon-fixtures` crate, which
//! the behaviour tests use and CI lints with warnings denied.

use integration_tests::generate_fixtures;
use std::path::Path;

macro_rules! fixture_snapshots {
    ($($name:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let files = generate_fixtures();
            let module = &files[Path::new(concat!("src/com/example/fixture/", $file))];
            insta::assert_snapshot!(stringify!($name), module);
        }
    )*};
}

fixture_snapshots! {
    record => "record.rs",
    object_optional_nullable => "object.rs",
    optional_objects_boxed_when_large => "boxing.rs",
    unions => "union.rs",
    tokens => "token.rs",
    strings => "strings.rs",
    integers_and_defaults => "integers.rs",
    inline_types => "inline.rs",
    recursive_types => "recursive.rs",
    query => "query.rs",
    procedure => "procedure.rs",
    raw_bytes => "upload.rs",
    subscription => "subscription.rs",
    permission_set => "permission_set.rs",
    naming => "naming.rs",
    descriptions => "docs.rs",
}

#[test]
fn namespace_features_and_manifest() {
    let files = generate_fixtures();
    insta::assert_snapshot!("manifest", &files[Path::new("Cargo.toml")]);
}
