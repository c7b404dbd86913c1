//! The command line and the `collect[]`/`exclude[]` filters, through the real binary.
