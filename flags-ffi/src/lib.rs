//! The C ABI of flags: one library that PHP, Dart and C evaluate through.
