//! Quoting names that come from flags into SQL text.

/// A string literal for SQL text (for names from flags, such as schema names).
pub fn sql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// A backquoted identifier (database and table names from flags).
pub fn sql_identifier(value: &str) -> String {
    format!("`{}`", value.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_escaped() {
        assert_eq!(sql_string("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(sql_identifier("we`ird"), "`we``ird`");
    }
}
