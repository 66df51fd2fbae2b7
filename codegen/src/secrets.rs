//! Which fields carry credentials, so that generated `Debug` prints `<redacted>` for them.
//!
//! A field is named by its address: `nsid#def` then the property names down to it, with
//! `params`, `input` and `output` for an endpoint's parts (`com.atproto.server.createSession#main.input.password`;
//! a record's properties sit directly under `nsid#main`). Array items share their field's address.
//!
//! The decision, in order:
//! 1. A string with a `format` is never a secret: the format says what it is (a DID, a
//!    record key, an NSID...), and each of them is a public identifier.
//! 2. The upstream set is classified field by field: [`SECRET`] and [`NOT_SECRET`]. A test
//!    walks every string field of the upstream lexicons and fails when a field whose name
//!    looks like a credential ([`looks_like_credential`]) is in neither list.
//! 3. Any other lexicon (a user's own, a third-party set) falls back on the name alone
//!    ([`secret_by_name`]): passwords, JWTs, tokens, secrets, invite codes, private keys.

/// Upstream fields that carry a credential: whoever reads the value can log in, act as the
/// account, confirm an operation sent to its email, or spend the server's invite.
pub const SECRET: &[&str] = &[
    // Passwords (account and app passwords).
    "com.atproto.admin.updateAccountPassword#main.input.password",
    "com.atproto.server.createAccount#main.input.password",
    "com.atproto.server.createAppPassword#appPassword.password",
    "com.atproto.server.createSession#main.input.password",
    "com.atproto.server.deleteAccount#main.input.password",
    "com.atproto.server.resetPassword#main.input.password",
    // Session and service-auth JWTs.
    "com.atproto.server.createAccount#main.output.accessJwt",
    "com.atproto.server.createAccount#main.output.refreshJwt",
    "com.atproto.server.createSession#main.output.accessJwt",
    "com.atproto.server.createSession#main.output.refreshJwt",
    "com.atproto.server.refreshSession#main.output.accessJwt",
    "com.atproto.server.refreshSession#main.output.refreshJwt",
    "com.atproto.server.getServiceAuth#main.output.token",
    // One-time tokens and codes mailed or texted to the account holder: each proves control
    // of the account for one operation (sign in, confirm email, reset password, ...).
    "com.atproto.server.createSession#main.input.authFactorToken",
    "com.atproto.server.confirmEmail#main.input.token",
    "com.atproto.server.updateEmail#main.input.token",
    "com.atproto.server.resetPassword#main.input.token",
    "com.atproto.server.deleteAccount#main.input.token",
    "com.atproto.identity.signPlcOperation#main.input.token",
    "com.atproto.server.createAccount#main.input.verificationCode",
    "app.bsky.contact.verifyPhone#main.input.code",
    "app.bsky.contact.verifyPhone#main.output.token",
    "app.bsky.contact.importContacts#main.input.token",
    // Invite codes: each one lets its holder create an account on the server.
    "com.atproto.server.createAccount#main.input.inviteCode",
    "com.atproto.server.createInviteCode#main.output.code",
    "com.atproto.server.createInviteCodes#accountCodes.codes",
    "com.atproto.server.defs#inviteCode.code",
    "com.atproto.admin.disableInviteCodes#main.input.codes",
    // A device's push token: with it, notifications can be addressed to that device.
    "app.bsky.notification.registerPush#main.input.token",
    "app.bsky.notification.unregisterPush#main.input.token",
];

/// Upstream fields whose names look like credentials but are not, each with the reason.
pub const NOT_SECRET: &[(&str, &str)] = &[
    // Public keys: published in the account's DID document by design.
    (
        "com.atproto.server.createAccount#main.input.recoveryKey",
        "a public rotation key (did:key) written into the PLC operation",
    ),
    (
        "com.atproto.identity.signPlcOperation#main.input.rotationKeys",
        "public rotation keys (did:key) of the PLC operation",
    ),
    (
        "com.atproto.identity.getRecommendedDidCredentials#main.output.rotationKeys",
        "public rotation keys (did:key)",
    ),
    (
        "com.atproto.server.reserveSigningKey#main.output.signingKey",
        "the public half of the reserved key, in did:key form",
    ),
    // Group chat join links are made to be shared: previews show them to unauthenticated
    // viewers and messages embed them; the owner revokes one by disabling the link.
    (
        "chat.bsky.embed.joinLink#main.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.group.defs#disabledJoinLinkPreviewView.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.group.defs#invalidJoinLinkPreviewView.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.group.defs#joinLinkPreviewView.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.group.defs#joinLinkView.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.group.getJoinLinkPreviews#main.params.codes",
        "shareable join links, sent in a URL",
    ),
    (
        "chat.bsky.group.requestJoin#main.input.code",
        "a shareable join link",
    ),
    (
        "chat.bsky.moderation.subscribeModEvents#eventGroupChatJoinRequest.joinLinkCode",
        "a shareable join link",
    ),
    (
        "chat.bsky.moderation.subscribeModEvents#eventGroupChatMemberJoined.joinLinkCode",
        "a shareable join link",
    ),
    (
        "chat.bsky.moderation.subscribeModEvents#eventGroupChatUpdated.joinLinkCode",
        "a shareable join link",
    ),
    // Country and region codes (ISO 3166).
    (
        "app.bsky.ageassurance.begin#main.input.countryCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.begin#main.input.regionCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.defs#configRegion.countryCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.defs#configRegion.regionCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.defs#event.countryCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.defs#event.regionCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.getState#main.params.countryCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.ageassurance.getState#main.params.regionCode",
        "an ISO 3166 code",
    ),
    (
        "app.bsky.unspecced.initAgeAssurance#main.input.countryCode",
        "an ISO 3166 code",
    ),
    (
        "tools.ozone.moderation.defs#ageAssuranceEvent.countryCode",
        "an ISO 3166 code",
    ),
    (
        "tools.ozone.moderation.defs#ageAssuranceEvent.regionCode",
        "an ISO 3166 code",
    ),
    // Machine-readable error and status codes.
    (
        "app.bsky.video.defs#jobStatus.failureCode",
        "why a video job failed",
    ),
    (
        "tools.ozone.moderation.cancelScheduledActions#failedCancellation.errorCode",
        "an error code",
    ),
    (
        "tools.ozone.moderation.scheduleAction#failedScheduling.errorCode",
        "an error code",
    ),
    (
        "app.bsky.ageassurance.defs#configRegion.additionalVerificationMethods",
        "names of verification methods",
    ),
    // Personal data, but not a credential; a seed that is not a key.
    (
        "com.atproto.server.createAccount#main.input.verificationPhone",
        "a phone number: personal data, not a credential",
    ),
    (
        "tools.ozone.moderation.queryStatuses#main.params.queueSeed",
        "a seed that shuffles a moderation queue, not a key",
    ),
];

/// Whether a field name looks like it could carry a credential: broad on purpose, so that
/// every such upstream field is classified by hand, in [`SECRET`] or [`NOT_SECRET`].
pub fn looks_like_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "jwt",
        "password",
        "passwd",
        "passphrase",
        "secret",
        "code",
        "key",
        "otp",
        "nonce",
        "signature",
        "credential",
        "cookie",
        "private",
        "recovery",
        "seed",
        "salt",
        "auth",
        "verification",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// The rule for fields outside the upstream set: a name that says it is a credential.
pub fn secret_by_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "password",
        "passphrase",
        "secret",
        "invitecode",
        "privatekey",
    ]
    .iter()
    .any(|word| name.contains(word))
        || ["jwt", "token"].iter().any(|end| name.ends_with(end))
}

/// Whether the field at `address`, named `name`, carries a credential. `formatted` says the
/// field is a string with a `format` (or an array of them).
pub fn is_secret(address: &str, name: &str, formatted: bool) -> bool {
    if formatted {
        return false;
    }
    if SECRET.contains(&address) {
        return true;
    }
    if NOT_SECRET.iter().any(|(a, _)| *a == address) {
        return false;
    }
    secret_by_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_do_not_overlap_or_repeat() {
        let mut seen = std::collections::BTreeSet::new();
        for address in SECRET.iter().chain(NOT_SECRET.iter().map(|(a, _)| a)) {
            assert!(seen.insert(*address), "{address} is listed twice");
        }
    }

    #[test]
    fn the_lists_win_over_the_name() {
        assert!(is_secret(
            "com.atproto.server.createInviteCode#main.output.code",
            "code",
            false
        ));
        assert!(!is_secret(
            "com.atproto.server.createAccount#main.input.recoveryKey",
            "recoveryKey",
            false
        ));
        // Elsewhere the name decides; a formatted string never is a secret.
        assert!(is_secret(
            "com.example.app#main.input.appPassword",
            "appPassword",
            false
        ));
        assert!(is_secret(
            "com.example.app#main.output.sessionToken",
            "sessionToken",
            false
        ));
        assert!(!is_secret(
            "com.example.app#main.output.code",
            "code",
            false
        ));
        assert!(!is_secret(
            "com.example.app#main.output.token",
            "token",
            true
        ));
    }
}
