"""Members: the directory of everyone seen on any platform, member tags (manual and by rule)
and a member's own data (export, erasure)."""
