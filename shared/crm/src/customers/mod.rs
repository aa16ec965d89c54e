//! The customer core: the record, its repository, lists, leads arriving by themselves, and the
//! staff routes.

pub mod import;
pub mod interactions;
pub mod leads;
pub mod list;
pub mod model;
pub mod repo;
pub mod routes;
pub mod submissions;

pub use model::Customer;
