//! Text-preserving edits of a flag file (operator commands).
