//! Live side by side with Debian's prometheus-node-exporter (to be written).
