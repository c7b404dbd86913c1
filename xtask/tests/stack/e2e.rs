//! The whole stack, natively (to be written).
