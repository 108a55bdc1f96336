//! The enrollment email's content, from the template files in `templates/` (embedded at
//! build time, so a function binary carries them): `{{placeholder}}` substitution, with
//! HTML escaping of the values in the HTML part.

use crate::enrollment::mailer::Email;

const SUBJECT: &str = include_str!("../../templates/enrollment.subject.txt");
const TEXT: &str = include_str!("../../templates/enrollment.txt");
const HTML: &str = include_str!("../../templates/enrollment.html");

/// What an enrollment email says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentContent<'a> {
    /// The user's name, as greeted.
    pub name: &'a str,
    pub product: &'a str,
    pub link: &'a str,
    /// The link's expiry, as shown to the user.
    pub expires: &'a str,
}

impl EnrollmentContent<'_> {
    fn values(&self) -> [(&'static str, &str); 4] {
        [("name", self.name), ("product", self.product), ("link", self.link), ("expires", self.expires)]
    }

    /// The email to `to`.
    pub fn render(&self, to: &str) -> Email {
        let values = self.values();
        // A header cannot hold a line break: a name with one would otherwise end the
        // subject early (header injection in the .eml form).
        let subject = render(SUBJECT, &values, |v| v.replace(['\r', '\n'], " ")).trim().to_string();
        Email { to: to.to_string(), subject, text: render(TEXT, &values, str::to_string), html: render(HTML, &values, escape_html) }
    }
}

/// Replaces each `{{key}}` by its value (through `encode`); unknown placeholders stay as
/// they are, so a typo in a template shows in the email rather than vanishing.
fn render(template: &str, values: &[(&str, &str)], encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                match values.iter().find(|(name, _)| *name == key) {
                    Some((_, value)) => out.push_str(&encode(value)),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// HTML text and attribute escaping (`&`, `<`, `>`, `"` and `'`): the values come from
/// the identity provider. The email and the enrollment page both escape with it.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_html_values_are_escaped() {
        let content = EnrollmentContent {
            name: "Zoë <script>alert(1)</script> & Co",
            product: "Acme MFA",
            link: "https://x.test/enroll/abc.def",
            expires: "2030-01-02 03:04 UTC",
        };
        let email = content.render("z@x.test");
        for part in [&email.subject, &email.text, &email.html] {
            assert!(!part.contains("{{"), "unfilled placeholder in {part}");
        }
        assert_eq!(email.subject, "Set up Acme MFA for your account");
        assert!(email.text.contains("Hello Zoë <script>alert(1)</script> & Co,"));
        assert!(email.text.contains("https://x.test/enroll/abc.def") && email.text.contains("2030-01-02 03:04 UTC"));
        assert!(email.html.contains("Zoë &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("href=\"https://x.test/enroll/abc.def\""));
        let newline = EnrollmentContent { product: "A\r\nBcc: evil@x.test", ..content };
        assert!(!newline.render("z@x.test").subject.contains('\n'));
    }

    #[test]
    fn unknown_and_unterminated_placeholders_stay() {
        assert_eq!(render("a {{x}} {{ y }} {{z", &[("y", "Y")], str::to_string), "a {{x}} Y {{z");
    }
}
