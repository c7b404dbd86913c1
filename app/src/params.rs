//! Query parameters of a listing (`?page=N&per_page=M&q=text`), shared by the page and the API.

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 200;
/// Far beyond any real table; keeps `(page - 1) * per_page` from overflowing.
const MAX_PAGE: u64 = 1_000_000_000;
const MAX_SEARCH_CHARS: usize = 150;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub page: u64,
    pub per_page: u32,
    /// Trimmed, non-empty, at most 150 characters.
    pub search: Option<String>,
    /// `aviso=creado|eliminado`: the message after a redirect.
    pub notice: Option<String>,
}

impl ListParams {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * u64::from(self.per_page)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamError {
    Page,
    PerPage,
}

impl ParamError {
    pub fn field(self) -> &'static str {
        match self {
            ParamError::Page => "page",
            ParamError::PerPage => "per_page",
        }
    }
}

/// Missing values take their defaults; `per_page` above 200 is lowered to 200; anything that is
/// not a positive integer is an error.
pub fn parse(raw_query: Option<&str>) -> Result<ListParams, ParamError> {
    let mut params = ListParams {
        page: 1,
        per_page: DEFAULT_PER_PAGE,
        search: None,
        notice: None,
    };
    for (key, value) in form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "page" if !value.is_empty() => {
                params.page = value
                    .parse::<u64>()
                    .ok()
                    .filter(|page| (1..=MAX_PAGE).contains(page))
                    .ok_or(ParamError::Page)?;
            }
            "per_page" if !value.is_empty() => {
                let per_page = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ParamError::PerPage)?;
                params.per_page =
                    u32::try_from(per_page.min(u64::from(MAX_PER_PAGE))).unwrap_or(MAX_PER_PAGE);
            }
            "q" if !value.is_empty() => {
                params.search = Some(value.chars().take(MAX_SEARCH_CHARS).collect());
            }
            "aviso" => params.notice = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(params)
}

/// `?page=…&per_page=…&q=…` for links that keep the current search and page size.
pub fn query_string(page: u64, per_page: u32, search: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("page", &page.to_string());
    if per_page != DEFAULT_PER_PAGE {
        query.append_pair("per_page", &per_page.to_string());
    }
    if let Some(search) = search {
        query.append_pair("q", search);
    }
    query.finish()
}

/// Number of pages for `total` rows (at least one, so an empty list still has page 1).
pub fn page_count(total: u64, per_page: u32) -> u64 {
    total.div_ceil(u64::from(per_page)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let params = parse(None).unwrap();
        assert_eq!((params.page, params.per_page, params.search), (1, 50, None));
        let params = parse(Some("page=3&per_page=100&q=+ana+")).unwrap();
        assert_eq!(
            (params.page, params.per_page, params.search.as_deref()),
            (3, 100, Some("ana"))
        );
        assert_eq!(params.offset(), 200);
        assert_eq!(parse(Some("per_page=5000")).unwrap().per_page, 200);
        assert_eq!(
            parse(Some("per_page=99999999999999999999999")),
            Err(ParamError::PerPage)
        );
        assert_eq!(parse(Some("page=0")), Err(ParamError::Page));
        assert_eq!(parse(Some("page=-1")), Err(ParamError::Page));
        assert_eq!(parse(Some("page=abc")), Err(ParamError::Page));
        assert_eq!(parse(Some("page=99999999999")), Err(ParamError::Page));
        assert_eq!(parse(Some("per_page=0")), Err(ParamError::PerPage));
        assert_eq!(parse(Some("page=&per_page=&q=")).unwrap().page, 1);
        assert_eq!(
            parse(Some(&format!("q={}", "x".repeat(500))))
                .unwrap()
                .search
                .unwrap()
                .len(),
            150
        );
        assert!(parse(Some("%zz=%%&&==&q=%FF")).is_ok());
    }

    #[test]
    fn links() {
        assert_eq!(query_string(2, 50, None), "page=2");
        assert_eq!(
            query_string(1, 100, Some("a&b c")),
            "page=1&per_page=100&q=a%26b+c"
        );
        assert_eq!(page_count(0, 50), 1);
        assert_eq!(page_count(100, 50), 2);
        assert_eq!(page_count(101, 50), 3);
    }
}
