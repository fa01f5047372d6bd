"""群发: one-off broadcasts to tagged or named groups, now or once at a time, paced and approved."""
