//! `customers.toml` as idp-inventory reads it (`Inventory::parse`), possibly written by
//! other tools.
//!
//! Properties: an inventory that parses renders (`Inventory::render`) to text that parses
//! back to the same inventory; every customer in it passes `validate` and has a usable name.
#![no_main]

use idp_inventory::{Inventory, check_name};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("customers.toml");
    let Ok(inventory) = Inventory::parse(text, path) else {
        return;
    };
    for (name, customer) in inventory.iter() {
        check_name(name).unwrap();
        customer.validate(name).unwrap();
    }
    let rendered = inventory.render();
    let again = Inventory::parse(&rendered, path)
        .unwrap_or_else(|e| panic!("what idp writes it cannot read ({e}):\n{rendered}"));
    assert_eq!(again, inventory, "{rendered}");
});
