//! Spanish (the seed's language, the default) and English, chosen from `Accept-Language`.
//!
//! Two languages and a few dozen strings: a table of `&'static str` is all it takes.

/// The language of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    /// English when the header prefers `en` (any region) over `es`; Spanish otherwise.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else {
            return Lang::Es;
        };
        let (mut en, mut es) = (0.0_f32, 0.0_f32);
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut quality = 1.0_f32;
            for parameter in parts {
                if let Some(value) = parameter.trim().strip_prefix("q=") {
                    quality = value
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
            let primary = tag.split('-').next().unwrap_or("");
            match primary {
                "en" => en = en.max(quality),
                "es" => es = es.max(quality),
                _ => {}
            }
        }
        if en > es { Lang::En } else { Lang::Es }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }
}

/// Every string a page or an API error shows.
#[derive(Debug)]
pub struct Texts {
    pub code: &'static str,
    pub app_title: &'static str,
    pub nav_home: &'static str,
    pub nav_users: &'static str,
    pub home_heading: &'static str,
    pub home_lead: &'static str,
    pub home_instance: &'static str,
    pub home_cta: &'static str,
    pub users_heading: &'static str,
    pub add_heading: &'static str,
    pub field_name: &'static str,
    pub field_email: &'static str,
    pub add_button: &'static str,
    pub search_label: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub search_clear: &'static str,
    pub col_id: &'static str,
    pub col_created: &'static str,
    pub col_actions: &'static str,
    pub delete: &'static str,
    pub empty: &'static str,
    pub empty_search: &'static str,
    pub total: &'static str,
    pub flash_created: &'static str,
    pub flash_deleted: &'static str,
    pub form_has_errors: &'static str,
    pub confirm_heading: &'static str,
    pub confirm_text: &'static str,
    pub confirm_button: &'static str,
    pub cancel: &'static str,
    pub pagination: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub per_page: &'static str,
    pub back_home: &'static str,
    pub error_title: &'static str,
    pub unavailable: &'static str,
    pub starting: &'static str,
    pub not_found: &'static str,
    pub user_not_found: &'static str,
    pub csrf: &'static str,
    pub cross_site: &'static str,
    pub admin_required: &'static str,
    pub bad_request: &'static str,
    pub bad_page: &'static str,
    pub bad_per_page: &'static str,
    pub too_large: &'static str,
    pub unsupported_media: &'static str,
    pub internal: &'static str,
    pub invalid_json: &'static str,
    pub not_object: &'static str,
    pub not_string: &'static str,
    pub name_required: &'static str,
    pub name_too_long: &'static str,
    pub name_control: &'static str,
    pub email_required: &'static str,
    pub email_too_long: &'static str,
    pub email_control: &'static str,
    pub email_invalid: &'static str,
    pub email_duplicate: &'static str,
}

pub static ES: Texts = Texts {
    code: "es",
    app_title: "Gestión de Usuarios",
    nav_home: "Inicio",
    nav_users: "Usuarios",
    home_heading: "Gestión de Usuarios",
    home_lead: "Aplicación de ejemplo: lista y agrega usuarios almacenados en MySQL.",
    home_instance: "Instancia balanceada",
    home_cta: "Ver usuarios",
    users_heading: "Lista de usuarios",
    add_heading: "Agregar usuario",
    field_name: "Nombre",
    field_email: "Email",
    add_button: "Agregar",
    search_label: "Buscar",
    search_placeholder: "Buscar por nombre o email",
    search_button: "Buscar",
    search_clear: "Limpiar",
    col_id: "ID",
    col_created: "Creado",
    col_actions: "Acciones",
    delete: "Eliminar",
    empty: "No hay usuarios registrados.",
    empty_search: "Ningún usuario coincide con la búsqueda.",
    total: "Total",
    flash_created: "Usuario agregado correctamente.",
    flash_deleted: "Usuario eliminado.",
    form_has_errors: "Revisa los campos marcados.",
    confirm_heading: "Eliminar usuario",
    confirm_text: "¿Seguro que quieres eliminar este usuario? Esta acción no se puede deshacer.",
    confirm_button: "Sí, eliminar",
    cancel: "Cancelar",
    pagination: "Paginación",
    previous: "Anterior",
    next: "Siguiente",
    per_page: "por página",
    back_home: "Volver al inicio",
    error_title: "Error",
    unavailable: "La base de datos no está disponible en este momento. Inténtalo de nuevo en unos segundos.",
    starting: "La aplicación se está iniciando. Inténtalo de nuevo en unos segundos.",
    not_found: "Página no encontrada.",
    user_not_found: "El usuario no existe.",
    csrf: "El formulario caducó o no es válido. Vuelve a cargar la página e inténtalo de nuevo.",
    cross_site: "Solicitud rechazada: viene de otro sitio.",
    admin_required: "Añadir o eliminar usuarios requiere la credencial de administración.",
    bad_request: "Solicitud no válida.",
    bad_page: "El número de página debe ser un entero positivo.",
    bad_per_page: "El tamaño de página debe ser un entero positivo.",
    too_large: "La solicitud es demasiado grande.",
    unsupported_media: "Tipo de contenido no admitido.",
    internal: "Error interno del servidor.",
    invalid_json: "El cuerpo no es JSON válido.",
    not_object: "El cuerpo debe ser un objeto JSON.",
    not_string: "Debe ser una cadena de texto.",
    name_required: "El nombre es obligatorio.",
    name_too_long: "El nombre no puede superar los 100 caracteres.",
    name_control: "El nombre contiene caracteres no permitidos.",
    email_required: "El email es obligatorio.",
    email_too_long: "El email no puede superar los 150 caracteres.",
    email_control: "El email contiene caracteres no permitidos.",
    email_invalid: "El email no es válido.",
    email_duplicate: "Ya existe un usuario con ese email.",
};

pub static EN: Texts = Texts {
    code: "en",
    app_title: "User Management",
    nav_home: "Home",
    nav_users: "Users",
    home_heading: "User Management",
    home_lead: "Sample application: lists and adds users stored in MySQL.",
    home_instance: "Balanced instance",
    home_cta: "See users",
    users_heading: "Users",
    add_heading: "Add a user",
    field_name: "Name",
    field_email: "Email",
    add_button: "Add",
    search_label: "Search",
    search_placeholder: "Search by name or email",
    search_button: "Search",
    search_clear: "Clear",
    col_id: "ID",
    col_created: "Created",
    col_actions: "Actions",
    delete: "Delete",
    empty: "No users yet.",
    empty_search: "No user matches the search.",
    total: "Total",
    flash_created: "User added.",
    flash_deleted: "User deleted.",
    form_has_errors: "Please check the highlighted fields.",
    confirm_heading: "Delete user",
    confirm_text: "Delete this user? This cannot be undone.",
    confirm_button: "Yes, delete",
    cancel: "Cancel",
    pagination: "Pagination",
    previous: "Previous",
    next: "Next",
    per_page: "per page",
    back_home: "Back to the home page",
    error_title: "Error",
    unavailable: "The database is unavailable right now. Please try again in a few seconds.",
    starting: "The application is starting. Please try again in a few seconds.",
    not_found: "Page not found.",
    user_not_found: "No such user.",
    csrf: "The form expired or is invalid. Reload the page and try again.",
    cross_site: "Refused: the request comes from another site.",
    admin_required: "Adding or deleting users needs the admin credential.",
    bad_request: "Bad request.",
    bad_page: "The page number must be a positive integer.",
    bad_per_page: "The page size must be a positive integer.",
    too_large: "The request is too large.",
    unsupported_media: "Unsupported content type.",
    internal: "Internal server error.",
    invalid_json: "The body is not valid JSON.",
    not_object: "The body must be a JSON object.",
    not_string: "Must be a string.",
    name_required: "The name is required.",
    name_too_long: "The name cannot be longer than 100 characters.",
    name_control: "The name contains characters that are not allowed.",
    email_required: "The email is required.",
    email_too_long: "The email cannot be longer than 150 characters.",
    email_control: "The email contains characters that are not allowed.",
    email_invalid: "The email is not valid.",
    email_duplicate: "A user with that email already exists.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None), Lang::Es);
        assert_eq!(Lang::negotiate(Some("")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(Some("es-ES,es;q=0.9,en;q=0.8")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("en;q=0.5, es;q=0.6")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("fr, en;q=0.3")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("en;q=0")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("en;q=garbage")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("EN-gb")), Lang::En);
        assert_eq!(Lang::negotiate(Some(";;;,,,q=1")), Lang::Es);
    }
}
