//! The journeys shipped with Nhịp, one per seed use case, kept as YAML files in
//! `shared/domain/journeys/` and compiled in. Each file lists the templates it uses at the top;
//! `templates.yaml` beside them holds those templates, one per code.

use serde::Deserialize;

use super::{Journey, JourneyErrors, parse_yaml};
use crate::template::Content;

/// A journey shipped with Nhịp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    /// The file name under `shared/domain/journeys/`.
    pub file: &'static str,
    /// Its YAML.
    pub yaml: &'static str,
}

impl Seed {
    /// The journey (not validated: templates are the organisation's).
    pub fn parse(&self) -> Result<Journey, JourneyErrors> {
        parse_yaml(self.yaml)
    }
}

/// The shipped journeys: installment invitation (seed 000), new-card onboarding (seed 001),
/// lead nurture e-mail series (seed 002).
pub const SEEDS: &[Seed] = &[
    Seed {
        file: "tra-gop-moi.yaml",
        yaml: include_str!("../../journeys/tra-gop-moi.yaml"),
    },
    Seed {
        file: "the-moi-kich-hoat.yaml",
        yaml: include_str!("../../journeys/the-moi-kich-hoat.yaml"),
    },
    Seed {
        file: "nuoi-duong-lead.yaml",
        yaml: include_str!("../../journeys/nuoi-duong-lead.yaml"),
    },
];

/// The templates the shipped journeys use, one per code, as a YAML list of
/// `{code, name, content}` kept in `shared/domain/journeys/templates.yaml` (read it with
/// [`seed_templates`]). They use only the data every send has (`customer.*`, `organisation.*`,
/// `message.*`); the send pipeline adds the advertising label and opt-out text itself.
pub const SEED_TEMPLATES: &str = include_str!("../../journeys/templates.yaml");

/// A template shipped with the seed journeys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTemplate {
    /// The code the journeys name it by, e.g. `tra-gop-moi-email`.
    pub code: String,
    /// The Vietnamese name staff see, e.g. "Trả góp - Thư mời tham gia chương trình".
    pub name: String,
    /// Its Liquid content, for the channel the journeys send it on.
    pub content: Content,
}

/// The templates of [`SEED_TEMPLATES`], in file order; the error is the YAML parser's message.
pub fn seed_templates() -> Result<Vec<SeedTemplate>, String> {
    yaml_serde::from_str(SEED_TEMPLATES).map_err(|e| format!("templates.yaml: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::template::{MergeData, Template, sms_segments, unaccent};

    /// Code → channel of every template the seed journeys send, failing on a code used on two
    /// channels.
    fn codes_used() -> BTreeMap<String, &'static str> {
        let mut used = BTreeMap::new();
        for seed in SEEDS {
            let journey = seed
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e:?}", seed.file));
            for (step, target) in journey.templates() {
                let channel = target.channel.as_str();
                if let Some(other) = used.insert(target.template.clone(), channel) {
                    assert_eq!(
                        other, channel,
                        "{}: step {step} sends {} on two channels",
                        seed.file, target.template
                    );
                }
            }
        }
        used
    }

    fn templates() -> Vec<SeedTemplate> {
        seed_templates().expect("templates.yaml parses")
    }

    #[test]
    fn seed_templates_pass_the_check() {
        for template in templates() {
            if let Err(errors) = Template::check(&template.content) {
                panic!("{}: {errors}", template.code);
            }
            assert!(!template.name.trim().is_empty(), "{}", template.code);
        }
    }

    #[test]
    fn seed_templates_are_exactly_the_codes_the_seeds_send_on_their_channels() {
        let used = codes_used();
        let mut shipped = BTreeMap::new();
        for template in templates() {
            let code = template.code.clone();
            assert!(
                shipped.insert(code, template.content.channel()).is_none(),
                "{} is in templates.yaml twice",
                template.code
            );
        }
        assert_eq!(
            shipped.keys().collect::<Vec<_>>(),
            used.keys().collect::<Vec<_>>(),
            "templates.yaml codes against the codes the seeds send"
        );
        assert_eq!(
            shipped, used,
            "each code on the channel its journey sends it on"
        );
    }

    #[test]
    fn seed_templates_need_only_data_every_send_has_and_keep_the_channel_limits() {
        // A send may come with no holding, journey or event data: rendering is strict.
        let data = MergeData {
            holding: None,
            journey: None,
            event: None,
            ..MergeData::sample()
        };
        for template in templates() {
            let code = &template.code;
            let compiled = Template::compile(&template.content).expect("compiles");
            let rendered = compiled
                .render(&data)
                .unwrap_or_else(|e| panic!("{code}: {e}"));
            match rendered {
                Content::Sms { text, .. } => {
                    let size = sms_segments(&text);
                    assert!(
                        text.chars().count() <= 134 && size.segments <= 2,
                        "{code}: {} characters, {size:?}: {text}",
                        text.chars().count()
                    );
                }
                Content::Push { title, body, .. } => {
                    assert!(title.chars().count() <= 50, "{code}: title {title}");
                    assert!(body.chars().count() <= 150, "{code}: body {body}");
                }
                Content::Email { subject, .. } => {
                    assert!(subject.chars().count() <= 100, "{code}: subject {subject}");
                }
                Content::Zns { .. } | Content::Webhook { .. } => {}
            }
        }
    }

    #[test]
    fn the_first_spend_offer_is_worded_the_same_on_every_channel() {
        const OFFER: &str = "chi tiêu 1.000.000 ₫ trong tháng đầu, miễn phí thường niên năm đầu";
        let offers: Vec<_> = templates()
            .into_iter()
            .filter(|t| t.code.starts_with("the-moi-uu-dai-chi-tieu-"))
            .collect();
        assert_eq!(offers.len(), 4);
        for template in offers {
            let rendered = Template::check(&template.content)
                .and_then(|t| t.render(&MergeData::sample()))
                .unwrap_or_else(|e| panic!("{}: {e}", template.code));
            // Every listed text must carry the offer; of ZNS parameters, one of them. An
            // unaccented SMS carries it unaccented.
            let (texts, one_is_enough): (Vec<String>, bool) = match rendered {
                Content::Email { html, text, .. } => (vec![html, text], false),
                Content::Sms {
                    text,
                    unaccented: true,
                } => (vec![text.replace(&unaccent(OFFER), OFFER)], false),
                Content::Sms { text, .. } => (vec![text], false),
                Content::Zns { params, .. } => (params.into_values().collect(), true),
                Content::Push { body, .. } => (vec![body], false),
                Content::Webhook { text } => (vec![text], false),
            };
            let carrying = texts.iter().filter(|t| t.contains(OFFER)).count();
            assert!(
                carrying == texts.len() || (one_is_enough && carrying > 0),
                "{}: {texts:?}",
                template.code
            );
        }
    }
}
