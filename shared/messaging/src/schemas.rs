//! The messaging enumerations as schemas of the OpenAPI document (see
//! `nhip_core::openapi`): each lists the wire forms the code accepts.

nhip_core::domain_enum!(
    /// [`crate::model::MessageChannel`]'s wire forms.
    MessageChannelSchema,
    "MessageChannel",
    "A channel a message leaves on.",
    crate::model::MessageChannel::ALL.iter().map(|v| v.as_str())
);
nhip_core::domain_enum!(
    /// [`crate::model::SendPurpose`]'s wire forms.
    SendPurposeSchema,
    "SendPurpose",
    "Why a message is sent: `care` (service, not advertising), `marketing`, `consent_request` (the one message asking to opt in).",
    ["care", "marketing", "consent_request"]
);
nhip_core::domain_enum!(
    /// A campaign's explicit audience.
    CampaignAudienceSchema,
    "CampaignAudience",
    "`all`: every customer in the caller's scope.",
    ["all"]
);
nhip_core::domain_enum!(
    /// How a refusal reached staff.
    RefusalViaSchema,
    "RefusalVia",
    "How the refusal came: on a call, in an e-mail or SMS reply, in person.",
    crate::routes::REFUSAL_VIA
);
const _: fn(crate::model::SendPurpose) = |purpose| {
    use crate::model::SendPurpose;
    match purpose {
        SendPurpose::Care | SendPurpose::Marketing | SendPurpose::ConsentRequest => {}
    }
};
