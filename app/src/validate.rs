//! Validation of a new user, shared by the form and the JSON API.

use crate::i18n::Texts;

/// Column limits of `usuarios` (in characters, as MySQL counts them for utf8mb4).
pub const NAME_MAX_CHARS: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 150;

/// A new user that passed validation: trimmed, within limits, well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub nombre: String,
    pub email: String,
}

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    NameRequired,
    NameTooLong,
    NameControl,
    EmailRequired,
    EmailTooLong,
    EmailControl,
    EmailInvalid,
    EmailDuplicate,
    NotString,
}

impl Problem {
    pub fn message(self, texts: &'static Texts) -> &'static str {
        match self {
            Problem::NameRequired => texts.name_required,
            Problem::NameTooLong => texts.name_too_long,
            Problem::NameControl => texts.name_control,
            Problem::EmailRequired => texts.email_required,
            Problem::EmailTooLong => texts.email_too_long,
            Problem::EmailControl => texts.email_control,
            Problem::EmailInvalid => texts.email_invalid,
            Problem::EmailDuplicate => texts.email_duplicate,
            Problem::NotString => texts.not_string,
        }
    }
}

/// A problem with a named field (`nombre` or `email`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: Problem,
}

/// Control characters (C0, DEL, C1) and the bidirectional overrides that can disguise text.
fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks both fields and reports every problem, `nombre` first.
pub fn validate(nombre: Option<&str>, email: Option<&str>) -> Result<NewUser, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = check_name(nombre.unwrap_or(""));
    let mail = check_email(email.unwrap_or(""));
    if let Err(problem) = name {
        errors.push(FieldError {
            field: "nombre",
            problem,
        });
    }
    if let Err(problem) = mail {
        errors.push(FieldError {
            field: "email",
            problem,
        });
    }
    match (name, mail) {
        (Ok(nombre), Ok(email)) => Ok(NewUser {
            nombre: nombre.to_owned(),
            email: email.to_owned(),
        }),
        _ => Err(errors),
    }
}

fn check_name(raw: &str) -> Result<&str, Problem> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Problem::NameRequired);
    }
    if name.chars().any(is_forbidden) {
        return Err(Problem::NameControl);
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Problem::NameTooLong);
    }
    Ok(name)
}

fn check_email(raw: &str) -> Result<&str, Problem> {
    let email = raw.trim();
    if email.is_empty() {
        return Err(Problem::EmailRequired);
    }
    if email.chars().any(is_forbidden) {
        return Err(Problem::EmailControl);
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(Problem::EmailTooLong);
    }
    if !is_valid_email(email) {
        return Err(Problem::EmailInvalid);
    }
    Ok(email)
}

/// The HTML standard's "valid e-mail address" (what `<input type=email>` accepts): an ASCII local
/// part of `A-Za-z0-9.!#$%&'*+/=?^_`{|}~-`, `@`, then dot-separated labels of letters, digits and
/// inner hyphens, at most 63 characters each. ASCII only, so the database's case-insensitive
/// collation compares e-mails by case alone. Hand-written: it is ten lines, a regex adds nothing.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-')
    };
    local_ok && domain.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn problems(nombre: Option<&str>, email: Option<&str>) -> Vec<(&'static str, Problem)> {
        match validate(nombre, email) {
            Ok(_) => vec![],
            Err(errors) => errors.iter().map(|e| (e.field, e.problem)).collect(),
        }
    }

    #[test]
    fn accepts_and_trims() {
        let user = validate(Some("  María José  "), Some(" mj@example.com\t")).unwrap();
        assert_eq!(user.nombre, "María José");
        assert_eq!(user.email, "mj@example.com");
    }

    #[test]
    fn names() {
        assert_eq!(
            problems(None, Some("a@b.c")),
            [("nombre", Problem::NameRequired)]
        );
        assert_eq!(
            problems(Some("   "), Some("a@b.c")),
            [("nombre", Problem::NameRequired)]
        );
        // 100 characters of 2 bytes each are fine; 101 are not.
        assert!(validate(Some(&"ñ".repeat(100)), Some("a@b.c")).is_ok());
        assert_eq!(
            problems(Some(&"ñ".repeat(101)), Some("a@b.c")),
            [("nombre", Problem::NameTooLong)]
        );
        for bad in ["a\u{0}b", "a\nb", "a\u{7f}", "a\u{85}b", "\u{202E}abc"] {
            assert_eq!(
                problems(Some(bad), Some("a@b.c")),
                [("nombre", Problem::NameControl)],
                "{bad:?}"
            );
        }
        // Emoji and other scripts are names too.
        assert!(validate(Some("李小龍 🐉"), Some("a@b.c")).is_ok());
    }

    #[test]
    fn emails() {
        for good in [
            "a@b",
            "first.last+tag@sub.example.co",
            "x_y-z@a-b.c",
            "O'Brien@EXAMPLE.com",
        ] {
            assert!(validate(Some("n"), Some(good)).is_ok(), "{good}");
        }
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@b..c",
            "a@-b.c",
            "a@b-.c",
            "a b@c.d",
            "a@b@c",
            "josé@example.com",
            "a@exa_mple.com",
        ] {
            assert_eq!(
                problems(Some("n"), Some(bad)),
                [("email", Problem::EmailInvalid)],
                "{bad}"
            );
        }
        assert_eq!(
            problems(Some("n"), Some("")),
            [("email", Problem::EmailRequired)]
        );
        assert_eq!(
            problems(Some("n"), Some("a\r\nBcc: x@y.z")),
            [("email", Problem::EmailControl)]
        );
        let long = format!("{}@example.com", "a".repeat(139));
        assert_eq!(long.len(), 151);
        assert_eq!(
            problems(Some("n"), Some(&long)),
            [("email", Problem::EmailTooLong)]
        );
        assert!(validate(Some("n"), Some(&long[1..])).is_ok());
    }

    #[test]
    fn both_fields_reported() {
        assert_eq!(
            problems(Some(""), Some("nope")),
            [
                ("nombre", Problem::NameRequired),
                ("email", Problem::EmailInvalid)
            ]
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_respects_limits(nombre in any::<String>(), email in any::<String>()) {
            if let Ok(user) = validate(Some(&nombre), Some(&email)) {
                prop_assert!(!user.nombre.is_empty());
                prop_assert!(user.nombre.chars().count() <= NAME_MAX_CHARS);
                prop_assert!(user.email.len() <= EMAIL_MAX_CHARS);
                prop_assert!(!user.nombre.chars().any(char::is_control));
                prop_assert!(user.email.is_ascii());
            }
        }
    }
}
