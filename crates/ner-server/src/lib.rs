//! ner-server
