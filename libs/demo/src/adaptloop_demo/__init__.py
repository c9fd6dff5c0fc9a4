"""The continuous-adaptation scenario run by `make demo` (`adaptloop demo`)."""
