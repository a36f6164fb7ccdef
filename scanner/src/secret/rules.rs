//! The built-in secret rules: the categories Trivy's built-in rules cover, each written
//! from the token's documented format. A rule applies only when one of its keywords occurs
//! in the file (case-insensitively), so most files are ruled out by one Aho-Corasick pass.
//!
//! `secret` marks the part of a match that is the secret (redacted in reports); without
//! it the whole match is.

/// One rule as written here; compiled by [`super::Scanner`].
pub(crate) struct RuleDef {
    pub id: &'static str,
    pub category: &'static str,
    pub title: &'static str,
    pub severity: &'static str,
    pub pattern: String,
    pub keywords: &'static [&'static str],
}

fn rule(
    id: &'static str,
    category: &'static str,
    title: &'static str,
    severity: &'static str,
    pattern: &str,
    keywords: &'static [&'static str],
) -> RuleDef {
    RuleDef {
        id,
        category,
        title,
        severity,
        pattern: pattern.to_string(),
        keywords,
    }
}

/// `NAME… = "SECRET"`: a vendor's credential recognised only next to the vendor's name (the
/// secret alone is an unremarkable hex or base-62 string). Up to 25 name characters, an
/// assignment operator, up to 5 characters, then the quoted secret.
fn named(
    id: &'static str,
    category: &'static str,
    title: &'static str,
    severity: &'static str,
    name: &'static str,
    secret: &str,
    keywords: &'static [&'static str],
) -> RuleDef {
    let pattern = format!(
        r#"(?i){name}[a-z0-9_ .,-]{{0,25}}(?:=|>|:=|\|\|:|<=|=>|:).{{0,5}}['"](?P<secret>{secret})['"]"#
    );
    rule(id, category, title, severity, &pattern, keywords)
}

/// An optional quote before and after a value.
const Q: &str = r#"["']?"#;
/// `key: value`, `key = value`, `key => value`.
const ASSIGN: &str = r"\s*(?::|=>|=)\s*";

pub(crate) fn builtin() -> Vec<RuleDef> {
    let uuid_hex = "[0-9a-h]{8}-[0-9a-h]{4}-[0-9a-h]{4}-[0-9a-h]{4}-[0-9a-h]{12}";
    vec![
        // AWS: key ids carry a four-letter prefix naming the kind of principal.
        rule(
            "aws-access-key-id",
            "AWS",
            "AWS Access Key ID",
            "CRITICAL",
            &format!(
                r"{Q}(?P<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{{16}}){Q}(?:\s|$)"
            ),
            &[
                "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "A3T",
            ],
        ),
        rule(
            "aws-secret-access-key",
            "AWS",
            "AWS Secret Access Key",
            "CRITICAL",
            &format!(
                r"(?im)(?:^|\s){Q}(?:aws)?_?(?:secret)?_?(?:access)?_?key{Q}{ASSIGN}{Q}(?P<secret>[A-Za-z0-9/+=]{{40}}){Q}(?:\s|$)"
            ),
            &["key"],
        ),
        rule(
            "aws-account-id",
            "AWS",
            "AWS Account ID",
            "HIGH",
            &format!(
                r"(?im)(?:^|\s){Q}(?:aws)?_?account_?(?:id)?{Q}{ASSIGN}{Q}(?P<secret>[0-9]{{4}}-?[0-9]{{4}}-?[0-9]{{4}}){Q}(?:\s|$)"
            ),
            &["account"],
        ),
        // GitHub's token prefixes (github.blog, "Behind GitHub's new authentication token formats").
        rule(
            "github-pat",
            "GitHub",
            "GitHub Personal Access Token",
            "CRITICAL",
            r"ghp_[0-9A-Za-z]{36}",
            &["ghp_"],
        ),
        rule(
            "github-oauth",
            "GitHub",
            "GitHub OAuth Access Token",
            "CRITICAL",
            r"gho_[0-9A-Za-z]{36}",
            &["gho_"],
        ),
        rule(
            "github-app-token",
            "GitHub",
            "GitHub App Token",
            "CRITICAL",
            r"gh[us]_[0-9A-Za-z]{36}",
            &["ghu_", "ghs_"],
        ),
        rule(
            "github-refresh-token",
            "GitHub",
            "GitHub Refresh Token",
            "CRITICAL",
            r"ghr_[0-9A-Za-z]{76}",
            &["ghr_"],
        ),
        rule(
            "github-fine-grained-pat",
            "GitHub",
            "GitHub Fine-grained personal access tokens",
            "CRITICAL",
            r"github_pat_[0-9A-Za-z_]{82}",
            &["github_pat_"],
        ),
        rule(
            "gitlab-pat",
            "GitLab",
            "GitLab Personal Access Token",
            "CRITICAL",
            r"glpat-[0-9A-Za-z_-]{20}",
            &["glpat-"],
        ),
        // PEM (RFC 7468) and OpenSSH private keys of any algorithm; the base64 body is the secret.
        rule(
            "private-key",
            "AsymmetricPrivateKey",
            "Asymmetric Private Key",
            "HIGH",
            r"(?i)-----\s*BEGIN[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?\s*-----\s*(?P<secret>[A-Za-z0-9=+/\\][A-Za-z0-9=+/\\\s]*[A-Za-z0-9=+/\\])\s*-----\s*END[ A-Z0-9_-]* PRIVATE KEY(?: BLOCK)?\s*-----",
            &["-----"],
        ),
        rule(
            "shopify-token",
            "Shopify",
            "Shopify token",
            "HIGH",
            r"shp(?:ss|at|ca|pa)_[0-9a-fA-F]{32}",
            &["shpss_", "shpat_", "shpca_", "shppa_"],
        ),
        rule(
            "slack-access-token",
            "Slack",
            "Slack token",
            "HIGH",
            r"xox[baprs]-[0-9A-Za-z]{10,48}",
            &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        ),
        rule(
            "slack-web-hook",
            "Slack",
            "Slack Webhook",
            "MEDIUM",
            r"https://hooks\.slack\.com/services/[A-Za-z0-9+/]{44,48}",
            &["hooks.slack.com"],
        ),
        rule(
            "stripe-publishable-token",
            "Stripe",
            "Stripe Publishable Key",
            "LOW",
            r"(?i)pk_(?:test|live)_[0-9a-z]{10,32}",
            &["pk_test_", "pk_live_"],
        ),
        rule(
            "stripe-secret-token",
            "Stripe",
            "Stripe Secret Key",
            "CRITICAL",
            r"(?i)sk_(?:test|live)_[0-9a-z]{10,32}",
            &["sk_test_", "sk_live_"],
        ),
        // A PyPI token is a macaroon whose base64 starts with the location "pypi.org".
        rule(
            "pypi-upload-token",
            "PyPI",
            "PyPI upload token",
            "HIGH",
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}",
            &["pypi-AgEIcHlwaS5vcmc"],
        ),
        // A Google service account key file (JSON written by `gcloud iam service-accounts keys create`).
        rule(
            "gcp-service-account",
            "Google",
            "Google (GCP) Service-account",
            "CRITICAL",
            r#""type": "service_account""#,
            &[r#""type": "service_account""#],
        ),
        rule(
            "twilio-api-key",
            "Twilio",
            "Twilio API Key",
            "MEDIUM",
            r"SK[0-9a-fA-F]{32}",
            &["SK"],
        ),
        // age's Bech32 secret keys.
        rule(
            "age-secret-key",
            "Age",
            "Age secret key",
            "MEDIUM",
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
            &["AGE-SECRET-KEY-1"],
        ),
        rule(
            "adobe-client-secret",
            "Adobe",
            "Adobe Client Secret",
            "LOW",
            r"p8e-(?i:[a-z0-9]{32})",
            &["p8e-"],
        ),
        rule(
            "alibaba-access-key-id",
            "Alibaba",
            "Alibaba AccessKey ID",
            "HIGH",
            r"(?:^|[^0-9a-z])(?P<secret>LTAI(?i:[a-z0-9]{20}))(?:[^0-9a-z]|$)",
            &["LTAI"],
        ),
        rule(
            "clojars-api-token",
            "Clojars",
            "Clojars API token",
            "MEDIUM",
            r"CLOJARS_(?i:[a-z0-9]{60})",
            &["CLOJARS_"],
        ),
        rule(
            "databricks-api-token",
            "Databricks",
            "Databricks API token",
            "MEDIUM",
            r"dapi[a-h0-9]{32}",
            &["dapi"],
        ),
        rule(
            "doppler-api-token",
            "Doppler",
            "Doppler API token",
            "MEDIUM",
            r#"['"]dp\.pt\.(?i:[a-z0-9]{43})['"]"#,
            &["dp.pt."],
        ),
        rule(
            "dynatrace-api-token",
            "Dynatrace",
            "Dynatrace API token",
            "MEDIUM",
            r#"['"]dt0c01\.(?i:[a-z0-9]{24}\.[a-z0-9]{64})['"]"#,
            &["dt0c01."],
        ),
        rule(
            "easypost-api-token",
            "Easypost",
            "EasyPost API token",
            "LOW",
            r#"['"]EZ[AT]K(?i:[a-z0-9]{54})['"]"#,
            &["EZAK", "EZAT"],
        ),
        rule(
            "flutterwave-public-key",
            "Flutterwave",
            "Flutterwave public/secret key",
            "MEDIUM",
            r"FLW(?:PUB|SEC)K_TEST-(?i:[a-h0-9]{32})-X",
            &["FLWSECK_TEST-", "FLWPUBK_TEST-"],
        ),
        rule(
            "frameio-api-token",
            "Frameio",
            "Frame.io API token",
            "LOW",
            r"fio-u-(?i:[a-z0-9_=-]{64})",
            &["fio-u-"],
        ),
        rule(
            "grafana-api-token",
            "Grafana",
            "Grafana API token",
            "MEDIUM",
            r#"['"]eyJrIjoi(?i:[a-z0-9_=-]{72,92})['"]"#,
            &["eyJrIjoi"],
        ),
        rule(
            "hashicorp-tf-api-token",
            "HashiCorp",
            "HashiCorp Terraform user/org API token",
            "MEDIUM",
            r#"['"](?i:[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,70})['"]"#,
            &["atlasv1."],
        ),
        rule(
            "hugging-face-access-token",
            "HuggingFace",
            "Hugging Face Access Token",
            "CRITICAL",
            r"hf_[A-Za-z]{34}",
            &["hf_"],
        ),
        rule(
            "linear-api-token",
            "Linear",
            "Linear API token",
            "MEDIUM",
            r"lin_api_(?i:[a-z0-9]{40})",
            &["lin_api_"],
        ),
        rule(
            "new-relic-user-api-key",
            "NewRelic",
            "New Relic user API Key",
            "MEDIUM",
            r#"['"](?P<secret>NRAK-[A-Z0-9]{27})['"]"#,
            &["NRAK-"],
        ),
        rule(
            "new-relic-browser-api-token",
            "NewRelic",
            "New Relic ingest browser API token",
            "MEDIUM",
            r#"['"](?P<secret>NRJS-[a-f0-9]{19})['"]"#,
            &["NRJS-"],
        ),
        // npm's granular/automation tokens; the quotes keep ordinary identifiers out.
        rule(
            "npm-access-token",
            "Npm",
            "npm access token",
            "CRITICAL",
            r#"['"](?P<secret>npm_(?i:[a-z0-9]{36}))['"]"#,
            &["npm_"],
        ),
        rule(
            "planetscale-password",
            "Planetscale",
            "PlanetScale password",
            "MEDIUM",
            r"pscale_pw_(?i:[a-z0-9_.-]{43})",
            &["pscale_pw_"],
        ),
        rule(
            "planetscale-api-token",
            "Planetscale",
            "PlanetScale API token",
            "MEDIUM",
            r"pscale_tkn_(?i:[a-z0-9_.-]{43})",
            &["pscale_tkn_"],
        ),
        rule(
            "postman-api-token",
            "Postman",
            "Postman API token",
            "MEDIUM",
            r"PMAK-(?i:[a-f0-9]{24}-[a-f0-9]{34})",
            &["PMAK-"],
        ),
        rule(
            "pulumi-api-token",
            "Pulumi",
            "Pulumi API token",
            "HIGH",
            r"pul-[a-f0-9]{40}",
            &["pul-"],
        ),
        rule(
            "rubygems-api-token",
            "RubyGems",
            "Rubygem API token",
            "MEDIUM",
            r"rubygems_[a-f0-9]{48}",
            &["rubygems_"],
        ),
        rule(
            "sendgrid-api-token",
            "SendGrid",
            "SendGrid API token",
            "MEDIUM",
            r"SG\.(?i:[a-z0-9_.-]{66})",
            &["SG."],
        ),
        rule(
            "sendinblue-api-token",
            "Sendinblue",
            "Sendinblue API token",
            "LOW",
            r"xkeysib-[a-f0-9]{64}-(?i:[a-z0-9]{16})",
            &["xkeysib-"],
        ),
        rule(
            "shippo-api-token",
            "Shippo",
            "Shippo API token",
            "LOW",
            r"shippo_(?:live|test)_[a-f0-9]{40}",
            &["shippo_live_", "shippo_test_"],
        ),
        // A JSON Web Token: base64url header and payload (both JSON objects, so `eyJ`), signature.
        rule(
            "jwt-token",
            "JWT",
            "JWT token",
            "MEDIUM",
            r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
            &["eyJ"],
        ),
        named(
            "heroku-api-key",
            "Heroku",
            "Heroku API Key",
            "HIGH",
            "heroku",
            "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
            &["heroku"],
        ),
        named(
            "facebook-token",
            "Facebook",
            "Facebook token",
            "LOW",
            "facebook",
            "[a-f0-9]{32}",
            &["facebook"],
        ),
        named(
            "twitter-token",
            "Twitter",
            "Twitter token",
            "LOW",
            "twitter",
            "[a-f0-9]{35,44}",
            &["twitter"],
        ),
        named(
            "adobe-client-id",
            "Adobe",
            "Adobe Client ID (Oauth Web)",
            "LOW",
            "adobe",
            "[a-f0-9]{32}",
            &["adobe"],
        ),
        named(
            "alibaba-secret-key",
            "Alibaba",
            "Alibaba Secret Key",
            "HIGH",
            "alibaba",
            "[a-z0-9]{30}",
            &["alibaba"],
        ),
        named(
            "atlassian-api-token",
            "Atlassian",
            "Atlassian API token",
            "HIGH",
            "atlassian",
            "[a-z0-9]{24}",
            &["atlassian"],
        ),
        named(
            "bitbucket-client-id",
            "Bitbucket",
            "Bitbucket client ID",
            "HIGH",
            "bitbucket",
            "[a-z0-9]{32}",
            &["bitbucket"],
        ),
        named(
            "discord-api-token",
            "Discord",
            "Discord API key",
            "MEDIUM",
            "discord",
            "[a-h0-9]{64}",
            &["discord"],
        ),
        named(
            "fastly-api-token",
            "Fastly",
            "Fastly API token",
            "MEDIUM",
            "fastly",
            "[a-z0-9=_-]{32}",
            &["fastly"],
        ),
        named(
            "hubspot-api-token",
            "HubSpot",
            "HubSpot API token",
            "LOW",
            "hubspot",
            uuid_hex,
            &["hubspot"],
        ),
        named(
            "mailchimp-api-key",
            "Mailchimp",
            "Mailchimp API key",
            "MEDIUM",
            "mailchimp",
            "[a-f0-9]{32}-us[0-9]{1,2}",
            &["mailchimp"],
        ),
        named(
            "mailgun-token",
            "Mailgun",
            "Mailgun private API token",
            "MEDIUM",
            "mailgun",
            "(?:pub)?key-[a-f0-9]{32}",
            &["mailgun"],
        ),
        named(
            "twitch-api-token",
            "Twitch",
            "Twitch API token",
            "LOW",
            "twitch",
            "[a-z0-9]{30}",
            &["twitch"],
        ),
    ]
}
