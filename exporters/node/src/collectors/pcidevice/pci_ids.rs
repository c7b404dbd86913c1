//! The `pci.ids` database (vendor, device, subsystem and class names), read once when the
//! collector is built: the file only changes with a package update.

use std::collections::HashMap;

/// Names by lower-case hexadecimal id, as upstream keys them.
#[derive(Debug, Default)]
pub(super) struct PciIds {
    vendors: HashMap<String, String>,
    devices: HashMap<(String, String), String>,
    /// `(vendor, device)` → `"subvendor:subdevice"` → name.
    subsystems: HashMap<(String, String), HashMap<String, String>>,
    classes: HashMap<String, String>,
    subclasses: HashMap<String, String>,
    prog_ifs: HashMap<String, String>,
}

/// `id  name` (two spaces), both trimmed; `None` without the two spaces.
fn id_and_name(line: &str) -> Option<(&str, &str)> {
    line.split_once("  ")
        .map(|(id, name)| (id.trim(), name.trim()))
}

impl PciIds {
    /// Parses the file line by line with upstream's rules: `C xx  name` opens the class list
    /// (one tab: subclass, two tabs: programming interface) until the next vendor line; a
    /// vendor line has no indentation, its devices one tab, their subsystems two tabs.
    pub(super) fn parse(text: &str) -> PciIds {
        let mut ids = PciIds::default();
        let (mut vendor, mut device) = (String::new(), String::new());
        let (mut base_class, mut subclass) = (String::new(), String::new());
        let mut in_classes = false;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let one_tab = line.starts_with('\t') && !line.starts_with("\t\t");
            let two_tabs = line.starts_with("\t\t") && !line.starts_with("\t\t\t");
            if line.starts_with("C ") {
                if let Some((id, name)) = id_and_name(line) {
                    let id = id[1..].trim();
                    ids.classes.insert(id.to_owned(), name.to_owned());
                    base_class = id.to_owned();
                    in_classes = true;
                }
            } else if one_tab && in_classes {
                if let Some((id, name)) = id_and_name(&line[1..])
                    && !base_class.is_empty()
                {
                    subclass = format!("{base_class}{id}");
                    ids.subclasses.insert(subclass.clone(), name.to_owned());
                }
            } else if two_tabs && in_classes {
                if let Some((id, name)) = id_and_name(&line[2..])
                    && !subclass.is_empty()
                {
                    ids.prog_ifs
                        .insert(format!("{subclass}{id}"), name.to_owned());
                }
            } else if !line.starts_with('\t') {
                if let Some((id, name)) = id_and_name(line) {
                    vendor = id.to_owned();
                    ids.vendors.insert(vendor.clone(), name.to_owned());
                    device.clear();
                    in_classes = false;
                }
            } else if one_tab {
                if let Some((id, name)) = id_and_name(&line[1..])
                    && !vendor.is_empty()
                {
                    device = id.to_owned();
                    ids.devices
                        .insert((vendor.clone(), device.clone()), name.to_owned());
                }
            } else if let Some(rest) = line.strip_prefix("\t\t")
                && let Some((id, name)) = id_and_name(rest)
                && !vendor.is_empty()
                && !device.is_empty()
            {
                let names = ids
                    .subsystems
                    .entry((vendor.clone(), device.clone()))
                    .or_default();
                let parts: Vec<&str> = id.split_whitespace().collect();
                if let [subvendor, subdevice] = parts[..] {
                    names.insert(format!("{subvendor}:{subdevice}"), name.to_owned());
                }
            }
        }
        ids
    }

    /// A vendor's name, or its id without `0x`.
    pub(super) fn vendor(&self, id: &str) -> String {
        let id = strip_hex(id).to_lowercase();
        self.vendors.get(&id).cloned().unwrap_or(id)
    }

    /// A device's name, or its id without `0x`.
    pub(super) fn device(&self, vendor: &str, device: &str) -> String {
        let key = (
            strip_hex(vendor).to_lowercase(),
            strip_hex(device).to_lowercase(),
        );
        self.devices
            .get(&key)
            .cloned()
            .unwrap_or_else(|| key.1.clone())
    }

    /// A subsystem's name, or the subsystem device id without `0x`.
    pub(super) fn subsystem(
        &self,
        vendor: &str,
        device: &str,
        subvendor: &str,
        subdevice: &str,
    ) -> String {
        let key = (strip_hex(vendor).to_owned(), strip_hex(device).to_owned());
        let subkey = format!("{}:{}", strip_hex(subvendor), strip_hex(subdevice));
        self.subsystems
            .get(&key)
            .and_then(|names| names.get(&subkey))
            .cloned()
            .unwrap_or_else(|| strip_hex(subdevice).to_owned())
    }

    /// The most precise class name: programming interface, subclass, then base class.
    pub(super) fn class(&self, class_id: &str) -> String {
        let id = strip_hex(class_id).to_lowercase();
        let lookups = [
            (6, &self.prog_ifs),
            (4, &self.subclasses),
            (2, &self.classes),
        ];
        for (len, names) in lookups {
            if let Some(name) = id.get(..len).and_then(|prefix| names.get(prefix)) {
                return name.clone();
            }
        }
        format!("Unknown class ({id})")
    }
}

fn strip_hex(id: &str) -> &str {
    id.strip_prefix("0x").unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "# comment
8086  Intel Corporation
\t1521  I350 Gigabit Network Connection
\t\t8086 00a3  Ethernet Network Adapter I350-T4
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 06  Bridge
";

    #[test]
    fn names_and_fallbacks() {
        let ids = PciIds::parse(SAMPLE);
        assert_eq!(ids.vendor("0x8086"), "Intel Corporation");
        assert_eq!(ids.vendor("0x1022"), "1022");
        assert_eq!(
            ids.device("0x8086", "0x1521"),
            "I350 Gigabit Network Connection"
        );
        assert_eq!(ids.device("0x8086", "0x1522"), "1522");
        assert_eq!(
            ids.subsystem("0x8086", "0x1521", "0x8086", "0x00a3"),
            "Ethernet Network Adapter I350-T4"
        );
        assert_eq!(
            ids.subsystem("0x8086", "0x1521", "0x8086", "0x00a4"),
            "00a4"
        );
        assert_eq!(ids.class("0x010802"), "NVM Express");
        assert_eq!(ids.class("0x010801"), "Non-Volatile memory controller");
        assert_eq!(ids.class("0x060400"), "Bridge");
        assert_eq!(ids.class("0x020000"), "Unknown class (020000)");
    }

    proptest! {
        #[test]
        fn garbage_never_panics(text in "[C0-9a-f \t\n#x]{0,200}", id in "\\PC{0,8}") {
            let ids = PciIds::parse(&text);
            let _ = (ids.vendor(&id), ids.device(&id, &id), ids.class(&id));
            let _ = ids.subsystem(&id, &id, &id, &id);
        }
    }
}
