//! The conversation in a local web page (`--web`): a small HTTP server on
//! 127.0.0.1 for one browser holding a one-time secret. So far its wire:
//! requests read strictly and answers with the headers every page gets.

pub mod http;
